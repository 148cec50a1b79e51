// The `vigie` command's building blocks that tests and other tools call without a process (main.ts runs them).
export {
  checkConfigFile,
  CONFIG_KINDS,
  configMain,
  inlineSecrets,
  readEnvFile,
  recogniseKind,
  unknownSettings,
  type ConfigKind,
  type FileCheck,
  type Output,
} from './config-check.js';
export { policyMain } from './policy-commands.js';
export { respondMain } from './respond-command.js';
export { replayMain, type ReplayIo } from './replay/replay.js';
