import type { Observation, SocketTracker } from './analyze-sockets.js';
import type { EgressConfig } from './config.js';
import type { EgressMetrics } from './metrics.js';
import type { SessionCache } from './source-pg-activity.js';
import { sampleSockets } from './source-ss-sample.js';

/** The sampling loop: one `ss` round at a time, joined to sessions, sent before the next round. */
export interface SamplingRound {
  /** One round: sample, join (refreshing the activity first for an unknown client end), record, send. */
  run(): Promise<void>;
  /** Marks now as the last successful round (at start, before the first round). */
  markOk(): void;
  /** Milliseconds since the last successful round. */
  sinceOkMs(nowMs: number): number;
  /** Whether no round succeeded for five intervals plus the ss timeout. */
  stale(nowMs: number): boolean;
}

export interface SamplingRoundOptions {
  config: Pick<EgressConfig, 'ssCommand' | 'serverPort' | 'ssTimeoutMs' | 'intervalMs'>;
  metrics: EgressMetrics;
  cache: SessionCache;
  tracker: SocketTracker;
  refreshActivity: () => Promise<void>;
  record: (obs: Observation) => void;
  /** Resolves once Kafka acknowledged everything queued. */
  flush: () => Promise<void>;
  warn: (what: string, error: unknown) => void;
}

export function createSamplingRound(o: SamplingRoundOptions): SamplingRound {
  const { config, metrics, cache, tracker } = o;
  let lastSampleOkMs = Date.now();

  const run = async (): Promise<void> => {
    const startedAtMs = Date.now();
    const endTimer = metrics.sampleDuration.startTimer();
    try {
      const sample = await sampleSockets({
        ssCommand: config.ssCommand,
        serverPort: config.serverPort,
        timeoutMs: config.ssTimeoutMs,
      });
      for (const reason of sample.rejected) metrics.linesRejected.inc({ reason });
      // A client end never seen before: look its session up now rather than one activity period later.
      const unknown = sample.sockets.some(
        (s) =>
          s.local.port === config.serverPort && s.peer.port !== undefined && !cache.byPeer(s.peer.addr, s.peer.port),
      );
      if (unknown) await o.refreshActivity();
      o.record(tracker.observeSample(sample.sockets, new Date(startedAtMs), startedAtMs));
      metrics.socketsTracked.set(tracker.size);
      lastSampleOkMs = Date.now();
      // Awaiting Kafka here is the backpressure: no new round while the last one is unacknowledged.
      await o.flush();
    } catch (error) {
      metrics.samplesFailed.inc();
      o.warn('sampling round failed', error);
    } finally {
      endTimer();
    }
  };

  return {
    run,
    markOk: () => {
      lastSampleOkMs = Date.now();
    },
    sinceOkMs: (nowMs) => nowMs - lastSampleOkMs,
    stale: (nowMs) => nowMs - lastSampleOkMs > config.intervalMs * 5 + config.ssTimeoutMs,
  };
}
