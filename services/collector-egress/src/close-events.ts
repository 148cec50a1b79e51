import type { Logger } from '@vigie/runtime';
import type { Observation, SocketTracker } from './analyze-sockets.js';
import type { EgressConfig } from './config.js';
import type { EgressMetrics } from './metrics.js';
import { createCloseWatcher } from './source-ss-close.js';

/** Socket-close events (`ss -E`): final counters, sent within 50 ms rather than with the next round. */
export interface CloseEvents {
  start(): void;
  /** Stops the `ss -E` child and the pending short flush timer. */
  stop(): Promise<void>;
  readonly running: boolean;
}

export interface CloseEventsOptions {
  config: Pick<EgressConfig, 'ssCommand' | 'stdbufCommand' | 'serverPort'>;
  logger: Logger;
  metrics: EgressMetrics;
  tracker: SocketTracker;
  record: (obs: Observation) => void;
  flush: () => Promise<void>;
}

export function createCloseEvents({
  config,
  logger,
  metrics,
  tracker,
  record,
  flush,
}: CloseEventsOptions): CloseEvents {
  let closeFlush: NodeJS.Timeout | undefined;
  const closeWatcher = createCloseWatcher({
    ssCommand: config.ssCommand,
    stdbufCommand: config.stdbufCommand,
    serverPort: config.serverPort,
    logger,
    onClose: (socket, at) => {
      if (socket.local.port !== config.serverPort) return;
      metrics.closeEvents.inc();
      record(tracker.observeClose(socket, at));
      metrics.socketsTracked.set(tracker.size);
      // Finals leave within 50 ms rather than with the next round (which may be a long interval away); the short
      // wait batches a burst of closes (pgbench -C: ~70 closes/s) into one Kafka request.
      closeFlush ??= setTimeout(() => {
        closeFlush = undefined;
        flush().catch(() => undefined);
      }, 50);
    },
    onRejected: (reason) => metrics.linesRejected.inc({ reason }),
    onRestart: () => metrics.closeWatcherRestarts.inc(),
  });
  return {
    start: () => closeWatcher.start(),
    async stop() {
      await closeWatcher.stop();
      if (closeFlush) clearTimeout(closeFlush);
    },
    get running() {
      return closeWatcher.running;
    },
  };
}
