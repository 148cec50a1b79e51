import { parseArgs } from 'node:util';
import { EXIT, createLogger, loadConfig, runService } from '@vigie/runtime';
import { createCollectorPglog } from './app.js';
import { CollectorPglogConfig } from './config.js';

const USAGE = 'usage: vigie run collector-pglog [--config <file>] [--policy <file>]';

/**
 * Runs collector-pglog until SIGINT/SIGTERM: `vigie run collector-pglog --config <file>`. The policy is accepted for
 * symmetry with the other services but not used: the collector forwards everything, Vigie's own roles included,
 * and the detector decides.
 */
export async function main(args: string[], env: Record<string, string | undefined>): Promise<void> {
  let values: { config?: string | undefined; policy?: string | undefined };
  try {
    ({ values } = parseArgs({
      args,
      options: { config: { type: 'string' }, policy: { type: 'string' } },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    process.stderr.write(`collector-pglog: ${(error as Error).message}\n${USAGE}\n`);
    process.exit(EXIT.config);
  }
  await runService(async () => {
    const config = loadConfig(CollectorPglogConfig, { file: values.config ?? env['VIGIE_CONFIG'], env });
    const logger = createLogger('collector-pglog', { level: config.log.level });
    const collector = createCollectorPglog(config, { logger });
    await collector.start();
    logger.info({ url: collector.url }, 'collector-pglog started');
    return { stop: () => collector.stop(), logger };
  });
}
