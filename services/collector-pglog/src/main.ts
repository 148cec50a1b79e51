import { createLogger, loadConfig, parseServiceArgs, runService } from '@vigie/runtime';
import { createCollectorPglog } from './app.js';
import { CollectorPglogConfig } from './config.js';

/**
 * Runs collector-pglog until SIGINT/SIGTERM: `vigie run collector-pglog --config <file>`. The policy is accepted for
 * symmetry with the other services but not used: the collector forwards everything, Vigie's own roles included,
 * and the detector decides.
 */
export async function main(args: string[], env: Record<string, string | undefined>): Promise<void> {
  const values = parseServiceArgs('collector-pglog', args, env);
  await runService(async () => {
    const config = loadConfig(CollectorPglogConfig, { file: values.config, env });
    const logger = createLogger('collector-pglog', { level: config.log.level });
    const collector = createCollectorPglog(config, { logger });
    await collector.start();
    logger.info({ url: collector.url }, 'collector-pglog started');
    return { stop: () => collector.stop(), logger };
  });
}
