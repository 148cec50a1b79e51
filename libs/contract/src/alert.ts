import { z } from 'zod';
import { CONTRACT_VERSION, Timestamp } from './common.js';

/** How urgent an alert is; maps to Alertmanager's `severity` label. */
export const Severity = z.enum(['info', 'warning', 'critical']);
export type Severity = z.infer<typeof Severity>;

/** Where the client stands relative to the site's bastion networks (a bounded label value). */
export const ClientClass = z.enum(['bastion', 'non-bastion', 'local', 'unknown']);
export type ClientClass = z.infer<typeof ClientClass>;

/**
 * One step of an active response to an alert (`vigie respond`, `POST /api/alerts/:id/response`, or the policy's
 * automatic responses): what was asked against which role, and what came of it. Published with the alert so that
 * nothing Vigie does to an account happens silently.
 */
export const ResponseAction = z.object({
  /** terminate: pg_terminate_backend of the session; lock: ALTER ROLE … NOLOGIN; unlock: LOGIN restored at expiry. */
  action: z.enum(['terminate', 'lock', 'unlock']),
  /** manual: a person asked (CLI/API); automatic: the policy's `response.rules`; expiry: a lock ran out. */
  mode: z.enum(['manual', 'automatic', 'expiry']),
  /** Who asked (a name, an on-call handle), or `policy` / `vigie`. */
  by: z.string(),
  at: Timestamp,
  /** The login role acted on. */
  role: z.string(),
  /**
   * done; planned (a dry run: what would be done); not-needed (the session had already ended, the role could not
   * log in anyway); refused (by the policy); failed (PostgreSQL said no).
   */
  result: z.enum(['done', 'planned', 'not-needed', 'refused', 'failed']),
  /** One line on the result (the reason of a refusal or failure). */
  detail: z.string(),
  /** Backend pid that was (to be) terminated. */
  pid: z.number().int().positive().optional(),
  /** When a lock ends (LOGIN restored). */
  until: Timestamp.optional(),
});
export type ResponseAction = z.infer<typeof ResponseAction>;

/**
 * One incident. The id is deterministic (rule + entity + window) so a replayed event or a restarted detector
 * updates the same alert (`revision` grows) instead of raising a second one.
 */
export const Alert = z.object({
  v: z.literal(CONTRACT_VERSION),
  id: z.string().min(1),
  rule: z.string().min(1),
  severity: Severity,
  status: z.enum(['firing', 'resolved']),
  title: z.string(),
  /** One line a human understands at 3 a.m.: what, how much, who, from where, when. */
  summary: z.string(),
  description: z.string().optional(),
  cluster: z.string(),
  database: z.string().optional(),
  sessionId: z.string().optional(),
  who: z.object({
    login: z.string().optional(),
    effectiveRole: z.string().optional(),
    /** Human operator named by the bastion (logical message or application_name), when there is one. */
    operator: z.string().optional(),
    privileged: z.boolean().optional(),
  }),
  where: z.object({
    clientAddr: z.string().optional(),
    clientClass: ClientClass,
    applicationName: z.string().optional(),
  }),
  what: z.object({
    tables: z.array(z.string()),
    rows: z.number().int().nonnegative().optional(),
    bytes: z.number().int().nonnegative().optional(),
    statements: z.number().int().nonnegative().optional(),
    /** Other objects the incident is about: server settings, extensions, log files. */
    objects: z.array(z.string()).optional(),
  }),
  evidence: z.object({
    /** Ids of the events that raised or updated the alert (bounded; the newest are kept). */
    eventIds: z.array(z.string()),
    /** Redacted statements, bounded. */
    statements: z.array(z.string()),
  }),
  tags: z.array(z.string()),
  firstSeen: Timestamp,
  lastSeen: Timestamp,
  /** Grows by one at each update of the same incident. */
  revision: z.number().int().positive(),
  /** Active responses to this incident, oldest first (absent when none). */
  response: z.array(ResponseAction).optional(),
});
export type Alert = z.infer<typeof Alert>;
