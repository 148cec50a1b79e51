import { setFlagsFromString } from 'node:v8';
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
    // Parsed records die young, but ~400 MB of them per 500,000 records still reach the old generation (they are
    // live at a young collection), and V8 lets that grow to ~4× its ~22 MB live size between full collections:
    // 200+ MB peak RSS. A fixed factor bounds it (bench/pglog-throughput.ts: ~160 MB at 2×). Read at every full
    // collection, so setting it now, before the heap has grown, is enough.
    if (config.memory.heapGrowingPercent > 0) {
      setFlagsFromString(`--heap-growing-percent=${config.memory.heapGrowingPercent}`);
    }
    const collector = createCollectorPglog(config, { logger });
    await collector.start();
    logger.info({ url: collector.url }, 'collector-pglog started');
    return { stop: () => collector.stop(), logger };
  });
}
