import { loadSitePolicy } from '@vigie/policy';
import { applyMemorySettings, createLogger, loadConfig, parseServiceArgs, runService } from '@vigie/runtime';
import { createDetector, type DetectorDeps } from './app.js';
import { DetectorConfig } from './config.js';

/**
 * `vigie run detector`: loads the config (YAML + `VIGIE_*` overrides) and the site policy, starts the detector and
 * keeps it until SIGINT/SIGTERM. Invalid configuration lists every problem and exits 2.
 */
export async function main(
  args: string[],
  env: Record<string, string | undefined>,
  deps: Partial<Pick<DetectorDeps, 'createEngine' | 'privileged'>> = {},
): Promise<void> {
  const values = parseServiceArgs('detector', args, env);
  await runService(async () => {
    const config = loadConfig(DetectorConfig, { file: values.config, env });
    const policy = loadSitePolicy(values.policy, env);
    const logger = createLogger('detector', { level: config.log.level });
    applyMemorySettings(config.memory);
    const detector = createDetector(config, { ...deps, logger, policy });
    await detector.start();
    return { stop: () => detector.stop(), logger };
  });
}
