import type { SourceHealth } from '@vigie/contract';
import { REPLICATION_ERRORS } from './errors.js';

/** What the stream's health is read from. */
export interface StreamState {
  readonly connected: boolean;
  /** Stable code of the last failure (`VIGIE_REPLICATION_…`, or the server's SQLSTATE), while reconnecting. */
  readonly lastErrorCode: string | undefined;
}

/**
 * The stream's health as heartbeats report it: `since` moves only when the state or the error changes. A server
 * SQLSTATE is reported under the stream's code (`VIGIE_REPLICATION_STREAM 42704`).
 */
export function createStreamHealth(stream: StreamState): () => SourceHealth {
  let health: SourceHealth = { state: 'ok', since: new Date().toISOString() };
  return () => {
    const state = stream.connected ? 'ok' : 'failing';
    const code = stream.lastErrorCode;
    const error =
      state === 'ok'
        ? undefined
        : code?.startsWith('VIGIE_')
          ? code
          : `${REPLICATION_ERRORS.STREAM}${code ? ` ${code}` : ''}`;
    if (state !== health.state || error !== health.error) {
      health = { state, since: new Date().toISOString(), ...(error !== undefined && { error }) };
    }
    return health;
  };
}
