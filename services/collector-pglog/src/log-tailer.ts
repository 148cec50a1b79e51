import { rateLimited, type Logger } from '@vigie/runtime';
import type { CollectorPglogConfig } from './config.js';
import type { CollectorMetrics } from './metrics.js';
import { LogTailer } from './source-tail.js';

/** The tailer of the configured log directory, its file events counted and logged. */
export function createLogTailer(
  source: CollectorPglogConfig['source'],
  metrics: CollectorMetrics,
  logger: Logger,
): LogTailer {
  const logSymlink = rateLimited(60_000, (suppressed: number, path: string) =>
    logger.warn({ path, suppressed }, 'symbolic link in the log directory refused'),
  );
  return new LogTailer({
    format: source.format,
    pgData: source.pgData,
    logDirectory: source.logDirectory,
    pattern: source.pattern,
    chunkBytes: source.chunkBytes,
    maxRecordBytes: source.maxRecordBytes,
    onRotate: (from, to) => {
      metrics.rotations.inc();
      logger.info({ from, to }, 'log file switched');
    },
    onTruncate: (file) => {
      metrics.truncations.inc();
      logger.warn({ file }, 'log file truncated: reading it again from the start');
    },
    onLostFile: (file) => logger.warn({ file }, 'checkpointed log file is gone: resuming at the next file'),
    onSymlink: (path) => {
      metrics.symlinksRefused.inc();
      logSymlink(path);
    },
  });
}
