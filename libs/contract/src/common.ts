import { z } from 'zod';

/** Contract version carried by every event; bumping it means a new set of topics (`*.v2`). */
export const CONTRACT_VERSION = 1 as const;

/** An instant as ISO 8601 in UTC (`2026-11-26T07:40:36.210Z`): event time at the source, never processing time. */
export const Timestamp = z.iso.datetime({ offset: false, precision: undefined });

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/**
 * PostgreSQL's `query_id`: a signed 64-bit integer carried as a decimal string, because a JS number rounds it
 * (`-3357000809903621108` would silently become `-3357000809903621000`).
 */
export const QueryId = z
  .string()
  // `abort`: the range check below must not run on a string that is not a number (BigInt would throw).
  .regex(/^-?\d{1,19}$/, { error: 'expected a signed 64-bit integer as a decimal string', abort: true })
  .refine((s) => {
    const n = BigInt(s);
    return n >= INT64_MIN && n <= INT64_MAX;
  }, 'out of the signed 64-bit range');

/** PostgreSQL session id as the server prints it: `hex(backend start epoch seconds).hex(pid)`. */
export const SessionId = z.string().regex(/^[0-9a-f]{1,16}\.[0-9a-f]{1,8}$/, 'expected <hex start>.<hex pid>');

/** Longest `application_name` an event carries (PostgreSQL itself keeps 63 bytes). */
export const APPLICATION_NAME_MAX = 64;

/** A client-chosen application name as events carry it: bounded, printable ASCII (no control characters). */
export const ApplicationName = z
  .string()
  .max(APPLICATION_NAME_MAX)
  .regex(/^[\x20-\x7e]*$/, 'printable ASCII only');

/** The database session an event is about, as far as the source knows it. */
export const SessionInfo = z.object({
  id: SessionId,
  pid: z.number().int().nonnegative(),
  /** Login role (the log's `user`); the effective role after `SET ROLE` is on statement events. */
  user: z.string().optional(),
  database: z.string().optional(),
  /** Client IP address, or `local` for a Unix-socket session. */
  clientAddr: z.string().optional(),
  clientPort: z.number().int().min(0).max(65535).optional(),
  /**
   * `application_name` as the client chose it (hostile: anyone sets it): printable ASCII only, at most
   * {@link APPLICATION_NAME_MAX} characters, and values that look like personal data (e-mail addresses, IBAN-shaped
   * words, standalone numbers of nine digits or more) replaced by `$n` by the collector.
   */
  applicationName: ApplicationName.optional(),
  backendType: z.string().optional(),
  startedAt: Timestamp.optional(),
});
export type SessionInfo = z.infer<typeof SessionInfo>;

/** Where in its source an event came from, so an investigator (or a replay) can find the original record. */
export const SourcePosition = z.object({
  /** Log file path, or `wal` / `ss` for the other collectors. */
  file: z.string().optional(),
  /** Byte offset of the record's first byte in `file`. */
  offset: z.number().int().nonnegative().optional(),
  /** Commit LSN for replication events (`16/B374D848`). */
  lsn: z.string().optional(),
});
export type SourcePosition = z.infer<typeof SourcePosition>;

/** Fields shared by every event; `kind` narrows the rest. */
export const envelope = {
  v: z.literal(CONTRACT_VERSION),
  /** Deterministic: a replay of the same source record produces the same id (log events: `<cluster>:<session_id>:<line_num>`). */
  id: z.string().min(1),
  cluster: z.string().min(1),
  ts: Timestamp,
  session: SessionInfo.optional(),
  source: SourcePosition.optional(),
};

/** Computes PostgreSQL's session id from the backend start time (epoch seconds) and pid, exactly as the log prints it. */
export function sessionIdOf(backendStartEpochSeconds: number, pid: number): string {
  return `${Math.floor(backendStartEpochSeconds).toString(16)}.${pid.toString(16)}`;
}
