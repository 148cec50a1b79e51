import { z } from 'zod';
import { envelope } from './common.js';

/** A client connection was authorized (`connection authorized: …`). */
export const SessionStartEvent = z.object({
  ...envelope,
  kind: z.literal('session.start'),
  /** SSL details as the server printed them (`protocol=TLSv1.3, cipher=…`), absent for a clear-text session. */
  ssl: z.string().optional(),
});

/** A session ended (`disconnection: session time: …`). */
export const SessionEndEvent = z.object({
  ...envelope,
  kind: z.literal('session.end'),
  durationMs: z.number().int().nonnegative(),
});

/** A login attempt failed (FATAL with SQLSTATE 28P01 bad password, 28000 no pg_hba entry / no such role). */
export const AuthFailureEvent = z.object({
  ...envelope,
  kind: z.literal('auth.failure'),
  user: z.string().optional(),
  database: z.string().optional(),
  sqlstate: z.string(),
  reason: z.string(),
});

/** A walsender session was authorized (`replication connection authorized: …`): pg_basebackup, a replica, a CDC tool. */
export const ReplicationConnectionEvent = z.object({
  ...envelope,
  kind: z.literal('replication.connection'),
});

/** A replication command received by a walsender (`BASE_BACKUP`, `START_REPLICATION`, `CREATE_REPLICATION_SLOT`, …). */
export const ReplicationCommandEvent = z.object({
  ...envelope,
  kind: z.literal('replication.command'),
  /** First word of the command, upper-case (`BASE_BACKUP`). */
  command: z.string(),
  /** The command text with any literal redacted. */
  text: z.string(),
});

/** What `session.error.message` holds when the server's text is not forwarded. */
export const MESSAGE_NOT_FORWARDED = {
  /** Raised by user code (PL/pgSQL `RAISE` / `ASSERT`, SQLSTATE P0001…): free text chosen by the user. */
  user: '<raised by user code: not forwarded>',
  /** A message shape the collector does not know: it cannot tell values from words, so nothing of it leaves. */
  unknown: '<unrecognised message: not forwarded>',
} as const;

/** An ERROR raised in a client session (permission denied 42501, undefined table 42P01…): probing leaves these. */
export const SessionErrorEvent = z.object({
  ...envelope,
  kind: z.literal('session.error'),
  sqlstate: z.string(),
  /**
   * The server's message as a template: a known PostgreSQL message shape with every value replaced by `$n`
   * (`invalid input syntax for type integer: $1`), or one of {@link MESSAGE_NOT_FORWARDED} — never text a user chose.
   */
  message: z.string(),
  /** Deprecated, no longer sent: the failing statement is described by `statementKind` / `statementFingerprint`. */
  statement: z.string().optional(),
  /** Kind of the statement that failed (`select`, `update`, …; guessed from its first word when it does not parse). */
  statementKind: z.string().optional(),
  /** libpg-query fingerprint of the failing statement's shape, when it parses: links repeated failures. */
  statementFingerprint: z.string().optional(),
});

/** Why the collector refused to believe a record that claims to be a pgaudit or connection-lifecycle record. */
export const ForgeryReason = z.enum([
  /** The record carries a `context` (PL/pgSQL `RAISE` …): pgaudit and the lifecycle messages never do. */
  'context',
  /** It carries the statement that raised it: pgaudit hides it, lifecycle messages have none. */
  'statement',
  /** It carries an internal query. */
  'internal_query',
  /** Its severity or SQLSTATE is not the one the server gives such records (LOG, 00000). */
  'severity',
  /** Its backend type or command tag cannot write such a record (a connection is authorized during `authentication`). */
  'origin',
  /** Its message names another user, database or client than the record's own fields. */
  'mismatch',
]);
export type ForgeryReason = z.infer<typeof ForgeryReason>;

/**
 * A log record that claims to be a pgaudit record (`AUDIT: …`) or a connection-lifecycle record (`connection
 * authorized:`, `disconnection:` …) without having the shape PostgreSQL gives those records: someone wrote it into
 * the server log (`RAISE LOG` in a `DO` block) to fake a `SET ROLE`, a session end or an audit trail. The collector
 * acted on none of it; the session is the one that wrote it.
 */
export const ForgedRecordEvent = z.object({
  ...envelope,
  kind: z.literal('record.forged'),
  /** What the record pretended to be. */
  claimed: z.enum([
    'audit',
    'connection',
    'disconnection',
    'replication-connection',
    'replication-command',
    'logged-statement',
  ]),
  reasons: z.array(ForgeryReason).min(1),
  /** The record's `error_severity` (LOG, WARNING, …). */
  severity: z.string().max(16),
  sqlstate: z.string().max(5).optional(),
  /** For a claimed audit record: the pgaudit class and command it claimed (`MISC`/`SET`), when they are plain words. */
  claimedClass: z.string().max(16).optional(),
  claimedCommand: z.string().max(32).optional(),
});
export type SessionStartEvent = z.infer<typeof SessionStartEvent>;
export type SessionEndEvent = z.infer<typeof SessionEndEvent>;
export type AuthFailureEvent = z.infer<typeof AuthFailureEvent>;
export type ReplicationConnectionEvent = z.infer<typeof ReplicationConnectionEvent>;
export type ReplicationCommandEvent = z.infer<typeof ReplicationCommandEvent>;
export type SessionErrorEvent = z.infer<typeof SessionErrorEvent>;
export type ForgedRecordEvent = z.infer<typeof ForgedRecordEvent>;
