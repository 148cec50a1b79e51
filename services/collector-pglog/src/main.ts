import { applyMemorySettings, createLogger, EXIT, loadConfig, parseServiceArgs, runService } from '@vigie/runtime';
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
    // V8 lets the old generation grow to ~4× its ~22 MB live size between full collections; a fixed factor bounds
    // the peak RSS. Young collections used to promote ~400 MB per 500,000 records end to end (the statement merger's
    // Map rebuilt per statement, message objects in flight): then a low factor cost CPU; now ~70 MB reach the old
    // generation and full collections are rare (bench/pglog-throughput.ts).
    applyMemorySettings(config.memory);
    const collector = createCollectorPglog(config, {
      logger,
      // A bug stopped the read loop: stop (checkpoint kept at what Kafka acknowledged) and exit non-zero, so that
      // the supervisor restarts the collector instead of leaving it alive and blind.
      onFatal: () => {
        void collector.stop().finally(() => process.exit(EXIT.failure));
      },
    });
    await collector.start();
    logger.info({ url: collector.url }, 'collector-pglog started');
    return { stop: () => collector.stop(), logger };
  });
}
