import type { SourceHealth } from '@vigie/contract';
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
