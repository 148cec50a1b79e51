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

/** An ERROR raised in a client session (permission denied 42501, undefined table 42P01…): probing leaves these. */
export const SessionErrorEvent = z.object({
  ...envelope,
  kind: z.literal('session.error'),
  sqlstate: z.string(),
  /** The server's message with literals redacted. */
  message: z.string(),
  /** The statement that failed, redacted, when the server logged it. */
  statement: z.string().optional(),
});
export type SessionStartEvent = z.infer<typeof SessionStartEvent>;
export type SessionEndEvent = z.infer<typeof SessionEndEvent>;
export type AuthFailureEvent = z.infer<typeof AuthFailureEvent>;
export type ReplicationConnectionEvent = z.infer<typeof ReplicationConnectionEvent>;
export type ReplicationCommandEvent = z.infer<typeof ReplicationCommandEvent>;
export type SessionErrorEvent = z.infer<typeof SessionErrorEvent>;
