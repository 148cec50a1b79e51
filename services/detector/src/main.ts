import { parseArgs } from 'node:util';
import { compilePolicy, loadPolicy, policyFileFrom } from '@vigie/policy';
import { EXIT, createLogger, loadConfig, runService } from '@vigie/runtime';
import { createDetector, type DetectorDeps } from './app.js';
import { DetectorConfig } from './config.js';

const USAGE = 'usage: vigie run detector [--config <file>] [--policy <file>]';

/**
 * `vigie run detector`: loads the config (YAML + `VIGIE_*` overrides) and the site policy, starts the detector and
 * keeps it until SIGINT/SIGTERM. Invalid configuration lists every problem and exits 2.
 */
export async function main(
  args: string[],
  env: Record<string, string | undefined>,
  deps: Pick<DetectorDeps, 'createEngine' | 'privileged'> = {},
): Promise<void> {
  let values: { config?: string | undefined; policy?: string | undefined };
  try {
    ({ values } = parseArgs({
      args,
      options: { config: { type: 'string' }, policy: { type: 'string' } },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n${USAGE}\n`);
    process.exit(EXIT.config);
  }
  await runService(async () => {
    const config = loadConfig(DetectorConfig, { file: values.config, env });
    const policy = compilePolicy(loadPolicy(policyFileFrom(values.policy, env)));
    const logger = createLogger('detector', { level: config.log.level });
    const detector = createDetector(config, { ...deps, logger, policy });
    await detector.start();
    return { stop: () => detector.stop(), logger };
  });
}
