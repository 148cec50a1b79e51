import { setFlagsFromString } from 'node:v8';
import { createLogger, EXIT, loadConfig, parseServiceArgs, runService } from '@vigie/runtime';
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
    // End to end, young collections promote ~400 MB per 500,000 records (parse-side objects, only with the real
    // Kafka producer running; a heap snapshot at the same moments does not find them live), and V8 lets the old
    // generation grow to ~4× its ~22 MB live size between full collections: 200+ MB peak RSS. A fixed factor bounds
    // it (bench/pglog-throughput.ts: 168-178 MB at 2.5× for the CPU V8's own factor costs; 158 MB at 2× for ~10 %
    // more CPU). V8 reads it at every full collection: setting it now, before the heap has grown, is enough.
    if (config.memory.heapGrowingPercent > 0) {
      setFlagsFromString(`--heap-growing-percent=${config.memory.heapGrowingPercent}`);
    }
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
