import { LogicalReplicationService, PgoutputPlugin, type Pgoutput } from 'pg-logical-replication';
import type { OwnSessions } from '@vigie/contract';
import { VigieError } from '@vigie/errors';
import { backoffMs, describeError, type Logger } from '@vigie/runtime';
import { formatLsn, maxLsn, parseLsn } from './lsn.js';
import type { ReconnectReason } from './metrics.js';
import { readSlot, type PgConnection } from './setup-replication.js';
import { REPLICATION_ERRORS } from './errors.js';

/** What the source hands each decoded pgoutput message to. */
export interface StreamHandler {
  /** One message, in stream order; awaiting here pauses the socket (flow control = backpressure). */
  onMessage(lsn: string, message: Pgoutput.Message): Promise<void> | void;
  /** The connection dropped: forget any half-received transaction (the server sends it again). */
  onDisconnect(): void;
  /** True when every transaction received so far is in Kafka and none is half-received. */
  isSettled(): boolean;
}

/** Options of {@link createReplicationSource}. */
export interface ReplicationSourceOptions {
  connection: PgConnection;
  slot: string;
  publication: string;
  handler: StreamHandler;
  logger: Logger;
  maxBackoffMs?: number;
  onConnectionChange?: (connected: boolean) => void;
  onReconnect?: (reason: ReconnectReason) => void;
  onConfirmed?: (lsn: bigint) => void;
  onReceived?: (lsn: bigint) => void;
  /** Called before each connection (e.g. to create a dropped slot again); a throw is retried with backoff. */
  beforeConnect?: () => Promise<void>;
  /** Records the sessions the source opens (its slot reads), for the collector's heartbeats. */
  own?: OwnSessions;
  /**
   * The stream started: `pid` is the walsender's backend pid, from the connection's own BackendKeyData (not from
   * `pg_replication_slots.active_pid`, which would name whoever holds the slot, an intruder included).
   */
  onStreamStart?: (pid: number | undefined) => void;
}

/** The replication stream with a reconnect loop and the only acknowledgement path to the server. */
export interface ReplicationSource {
  /** Starts the loop in the background; returns at once. */
  start(): void;
  /**
   * Confirms to the server that everything up to `lsn` (a commit's end) is stored in Kafka. Monotonic: a lower
   * value is ignored. Never call it with an LSN Kafka has not acknowledged.
   */
  confirm(lsn: bigint): void;
  /** Stops reading, then closes the connection; `beforeClose` runs while it is still open (final confirmation). */
  stop(beforeClose?: () => Promise<void>): Promise<void>;
  readonly connected: boolean;
  readonly confirmedLsn: bigint;
  /** Reason of the last failure, while reconnecting. */
  readonly lastError: string | undefined;
  /** Stable code of the last failure (`VIGIE_REPLICATION_…`, or the server's SQLSTATE), while reconnecting. */
  readonly lastErrorCode: string | undefined;
}

// pg-logical-replication 2.5.0 keeps received-but-unhandled messages in this private queue (flow control). A
// keep-alive is emitted as soon as it arrives, possibly while earlier data still waits there, so its LSN may only be
// confirmed when the queue is empty. If a future version renames it, the check says "not empty" (safe).
function libraryQueueEmpty(service: LogicalReplicationService): boolean {
  const queue = (service as unknown as { _messageQueue?: unknown[] })._messageQueue;
  return Array.isArray(queue) && queue.length === 0;
}

// pg-logical-replication 2.5.0 keeps its pg.Client in this private field; pg's Client records the backend pid the
// server sent at startup (BackendKeyData) as `processID`. If a future version renames it, the walsender is simply
// not announced (and its session is reported as not Vigie's): visible, not silent.
function walsenderPid(service: LogicalReplicationService): number | undefined {
  const pid = (service as unknown as { _client?: { processID?: unknown } })._client?.processID;
  return typeof pid === 'number' ? pid : undefined;
}

/**
 * Reads a slot with pgoutput and never confirms a position Kafka has not stored.
 *
 * pg-logical-replication 2.5.0 traps, checked in its source: its keep-alive timer acknowledges the last *received*
 * LSN (turned off: `timeoutSeconds: 0`, `auto: false`); `subscribe` resumes from the last received LSN unless told
 * otherwise (we always pass `0/0`: the server resumes from the slot's confirmed_flush_lsn); it has no reconnect loop
 * (this one, with backoff); and `acknowledge(lsn)` reports `lsn + 1`. The server then skips any transaction whose
 * commit record *starts* before the confirmed position, and a commit record can start exactly at the previous one's
 * end (two interleaved transactions committing back to back), so `lsn + 1` could skip it forever. We therefore pass
 * `end − 1`, so the server receives exactly the commit's end LSN, as pg_recvlogical and built-in subscribers do.
 */
export function createReplicationSource({
  connection,
  slot,
  publication,
  handler,
  logger,
  maxBackoffMs = 10_000,
  onConnectionChange,
  onReconnect,
  onConfirmed,
  onReceived,
  beforeConnect,
  own,
  onStreamStart,
}: ReplicationSourceOptions): ReplicationSource {
  let service: LogicalReplicationService | undefined;
  let connected = false;
  let stopping = false;
  let draining = false;
  let confirmed = 0n;
  let lastError: string | undefined;
  let lastErrorCode: string | undefined;
  let handling = false;
  let loop: Promise<void> | undefined;
  let wake: (() => void) | undefined;

  const setConnected = (value: boolean) => {
    if (connected === value) return;
    connected = value;
    onConnectionChange?.(value);
  };

  const sendStatus = (lsn: bigint) => {
    if (!service || !connected || lsn <= 0n) return;
    // See the note above: the library adds 1.
    void service.acknowledge(formatLsn(lsn - 1n)).catch(() => undefined);
  };

  const confirm = (lsn: bigint) => {
    if (lsn <= confirmed) return;
    confirmed = lsn;
    onConfirmed?.(lsn);
    sendStatus(lsn);
  };

  const connectOnce = async (): Promise<ReconnectReason> => {
    await beforeConnect?.();
    const state = await readSlot(connection, slot, own);
    if (!state) {
      throw new VigieError(REPLICATION_ERRORS.SLOT_MISSING, `replication slot ${slot} does not exist`, {
        retriable: true,
      });
    }
    if (state.walStatus === 'lost') {
      // Streaming fails anyway; say why. Re-creating it would hide a permanent gap: that is the operator's call.
      throw new VigieError(
        REPLICATION_ERRORS.SLOT_LOST,
        `replication slot ${slot} is lost (max_slot_wal_keep_size exceeded): changes are missing; drop and recreate it`,
        { retriable: true },
      );
    }
    if (state.confirmedFlushLsn) confirmed = maxLsn(confirmed, parseLsn(state.confirmedFlushLsn));

    const svc = new LogicalReplicationService(
      { ...connection, application_name: 'vigie-collector-replication' },
      { acknowledge: { auto: false, timeoutSeconds: 0 }, flowControl: { enabled: true } },
    );
    service = svc;
    // A stop() that came while this connection was being prepared found no stream to end: do not open one, or the
    // stop would wait for a stream nobody ends (seen: a collector stopped right after its start hung for minutes).
    if (stopping) return 'ended';
    let failure: unknown;
    svc.on('error', (error: Error) => {
      // With flow control the library reports a failed handler here and goes on with the next message; going on
      // would confirm later commits past the failed one. Drop the connection: the server sends it all again.
      failure ??= error;
      void svc.stop().catch(() => undefined);
    });
    svc.on('start', () => {
      setConnected(true);
      lastError = undefined;
      lastErrorCode = undefined;
      logger.info({ slot, confirmedLsn: formatLsn(confirmed) }, 'replication stream started');
      onStreamStart?.(walsenderPid(svc));
      // Re-state our position at once (it may be ahead of the slot after an idle confirmation).
      sendStatus(confirmed);
    });
    svc.on('data', async (lsn: string, message: Pgoutput.Message) => {
      if (draining) return; // stopping: not handled means not confirmed; the server sends it again next time
      handling = true;
      try {
        // Parsing every message's LSN costs a regex and BigInts per row; commits are enough for the gauge.
        if (onReceived && message.tag === 'commit') onReceived(parseLsn(lsn));
        await handler.onMessage(lsn, message);
      } finally {
        handling = false;
      }
    });
    svc.on('heartbeat', (lsn: string, _timestamp: number, shouldRespond: boolean) => {
      // An idle stream: everything received is in Kafka and nothing waits in the library, so every commit before
      // the keep-alive's position has been confirmed and that position can be confirmed too (otherwise an idle
      // database's slot would hold WAL written by other databases forever).
      if (!draining && !handling && handler.isSettled() && libraryQueueEmpty(svc)) {
        const position = parseLsn(lsn);
        if (position > confirmed) {
          confirm(position);
          return;
        }
      }
      // Answer with the last *confirmed* position, never the last received one.
      if (shouldRespond) sendStatus(confirmed);
    });

    const plugin = new PgoutputPlugin({ protoVersion: 1, publicationNames: [publication], messages: true });
    try {
      await svc.subscribe(plugin, slot, '0/0');
    } catch (error) {
      failure ??= error;
    }
    if (failure !== undefined) throw failure;
    return 'ended';
  };

  const run = async () => {
    for (let attempt = 0; !stopping; attempt += 1) {
      let reason: ReconnectReason = 'error';
      try {
        reason = await connectOnce();
        if (connected) attempt = 0;
        lastError = 'replication stream ended';
      } catch (error) {
        if (connected) attempt = 0;
        lastError = describeError(error);
        const code = (error as { code?: unknown }).code;
        lastErrorCode = typeof code === 'string' && /^[A-Z0-9_]+$/.test(code) ? code : undefined;
        if (!stopping) logger.warn({ slot, attempt, error: lastError }, 'replication stream failed; reconnecting');
      } finally {
        setConnected(false);
        handler.onDisconnect();
        const svc = service;
        service = undefined;
        await svc?.stop().catch(() => undefined);
      }
      if (stopping) break;
      onReconnect?.(reason);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, backoffMs(attempt, { baseMs: 250, maxMs: maxBackoffMs }));
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  };

  return {
    start() {
      loop ??= run();
    },
    confirm,
    async stop(beforeClose) {
      draining = true;
      try {
        await beforeClose?.();
      } finally {
        stopping = true;
        wake?.();
        await service?.stop().catch(() => undefined);
        await loop;
      }
    },
    get connected() {
      return connected;
    },
    get confirmedLsn() {
      return confirmed;
    },
    get lastError() {
      return lastError;
    },
    get lastErrorCode() {
      return lastErrorCode;
    },
  };
}
