import type { SourceHealth } from '@vigie/contract';
import { backoffMs, describeError, rateLimited, type Logger } from '@vigie/runtime';
import type { CollectorMetrics } from './metrics.js';
import { LogSourceError } from './source-tail.js';
import { PGLOG_ERRORS } from './errors.js';

/** System error codes the heartbeat may name (anything else is reported as `OTHER`): a small, fixed vocabulary. */
const KNOWN_ERRNOS = new Set(['EACCES', 'EPERM', 'ENOENT', 'EISDIR', 'ENOTDIR', 'EMFILE', 'ENFILE', 'EIO', 'ELOOP']);

/** Whether an error of the read loop comes from the file system (retried) rather than from a bug (fatal). */
export function isSourceError(error: unknown): boolean {
  if (error instanceof LogSourceError) return true;
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return typeof code === 'string' && /^E[A-Z]+$/.test(code);
}

/** The heartbeat's code for a source error: `VIGIE_PGLOG_SOURCE_READ <errno>`, `OTHER` outside the vocabulary. */
export function sourceErrorCode(error: unknown): string {
  const errno = error instanceof LogSourceError ? error.errno : (error as NodeJS.ErrnoException | undefined)?.code;
  return `${PGLOG_ERRORS.SOURCE_READ} ${errno !== undefined && KNOWN_ERRNOS.has(errno) ? errno : 'OTHER'}`;
}

/** The source loop's health: heartbeats, /readyz and `vigie_collector_source_up` report it. */
export interface ReadHealth {
  readonly current: SourceHealth;
  /** Moves the health (and `since`) only when the state or the error changes; `onChange` sees each move. */
  set(state: SourceHealth['state'], error?: string): void;
}

export function createReadHealth(onChange: (health: SourceHealth) => void): ReadHealth {
  let health: SourceHealth = { state: 'ok', since: new Date().toISOString() };
  return {
    get current() {
      return health;
    },
    set(state, error) {
      if (health.state === state && health.error === error) return;
      health = { state, since: new Date().toISOString(), ...(error !== undefined && { error }) };
      onChange(health);
    },
  };
}

export interface SourceRetryOptions {
  health: ReadHealth;
  metrics: Pick<CollectorMetrics, 'sourceFailures'>;
  logger: Logger;
  retryBaseMs: number;
  retryMaxMs: number;
}

/** The read loop's answer to an unreadable source: count, report failing, back off; and to its recovery. */
export interface SourceRetry {
  /** A read failed on the file system: counts it, sets the health failing, waits the backoff (cut short by `wake`). */
  failed(error: unknown): Promise<void>;
  /** A read succeeded: logs a recovery after failures, sets the health ok. */
  succeeded(): void;
  /** Cuts a backoff short (at stop). */
  wake(): void;
}

export function createSourceRetry({
  health,
  metrics,
  logger,
  retryBaseMs,
  retryMaxMs,
}: SourceRetryOptions): SourceRetry {
  let sourceFailures = 0;
  const logSourceFailure = rateLimited(30_000, (suppressed: number, attempt: number, error: unknown) =>
    logger.error(
      { attempt, suppressed, error: describeError(error) },
      'log source unreadable: reading stopped, retrying with backoff (events are not lost: the position is kept)',
    ),
  );
  /** A wait that `stop()` cuts short (a retry backoff can be long). */
  let wake: (() => void) | undefined;
  const nap = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  return {
    async failed(error) {
      metrics.sourceFailures.inc();
      health.set('failing', sourceErrorCode(error));
      logSourceFailure(sourceFailures, error);
      await nap(backoffMs(sourceFailures, { baseMs: retryBaseMs, maxMs: retryMaxMs }));
      sourceFailures += 1;
    },
    succeeded() {
      if (sourceFailures > 0) {
        logger.info({ attempts: sourceFailures }, 'log source readable again: reading resumed');
        sourceFailures = 0;
      }
      health.set('ok');
    },
    wake: () => wake?.(),
  };
}
