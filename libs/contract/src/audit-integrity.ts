import { z } from 'zod';
import { envelope } from './common.js';
import { SqlAnalysis } from './statement.js';

/** Where a setting took the value found: the server-wide value, or a per-role / per-database override. */
export const SettingScope = z.enum(['server', 'role', 'database', 'role-database']);

/** One effective setting that no longer lets Vigie see what it must (reads audited, connections logged…). */
export const SettingDrift = z.object({
  /** Parameter name (`pgaudit.log`, `log_connections`, `log_destination`…). */
  setting: z.string(),
  scope: SettingScope,
  /** The role or database of an override (`pg_db_role_setting`); role and database for `role-database`. */
  role: z.string().optional(),
  database: z.string().optional(),
  /** What Vigie needs, in words (`includes read`, `on`, `includes jsonlog`). */
  expected: z.string(),
  /** The value found (a parameter value, never data). */
  found: z.string(),
});
export type SettingDrift = z.infer<typeof SettingDrift>;

/**
 * collector-pglog's check of the server's effective audit settings (at start and periodically, through its optional
 * database connection): `drift` lists what no longer audits what Vigie needs; an empty list means all is well (sent
 * at each check, so a cleared drift resolves the alert).
 */
export const AuditSettingsEvent = z.object({
  ...envelope,
  kind: z.literal('audit.settings'),
  /** How many (setting, scope) values were compared. */
  checked: z.number().int().nonnegative(),
  drift: z.array(SettingDrift),
});
export type AuditSettingsEvent = z.infer<typeof AuditSettingsEvent>;

/**
 * A log file that shrank or disappeared before collector-pglog read it to its end: what was written there and not
 * read is lost to Vigie (a truncation by someone with access to the files, or a deletion of rotated files).
 */
export const LogGapEvent = z.object({
  ...envelope,
  kind: z.literal('log.gap'),
  /** `truncated`: the file is shorter than what was read; `deleted`: it vanished (or was unlinked) before it was read
   *  to its end; `missing`: the file the checkpoint names is gone at start. */
  reason: z.enum(['truncated', 'deleted', 'missing']),
  file: z.string(),
  /** Bytes of the file the collector had read (its offset). */
  readBytes: z.number().int().nonnegative(),
  /** The size last seen (before it shrank or vanished), when known. */
  knownBytes: z.number().int().nonnegative().optional(),
  /** Its size now (truncated), when it still exists. */
  sizeNow: z.number().int().nonnegative().optional(),
  /** Bytes known written and never read (knownBytes - readBytes, at least): 0 when nothing known was lost. */
  unreadBytes: z.number().int().nonnegative(),
});
export type LogGapEvent = z.infer<typeof LogGapEvent>;

/**
 * A statement the server logged through `log_statement` (`statement: …` lines) that changes configuration. pgaudit
 * logs a `SET` only after it ran, so `SET pgaudit.log = 'none'` or `SET log_min_messages = panic` hide themselves
 * from it; `log_statement` logs them before. Other `log_statement` lines are not forwarded (pgaudit covers them).
 */
export const LoggedStatementEvent = z.object({
  ...envelope,
  kind: z.literal('statement.logged'),
  sql: SqlAnalysis,
});
export type LoggedStatementEvent = z.infer<typeof LoggedStatementEvent>;
