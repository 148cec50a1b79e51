import { z } from 'zod';
import { Alert, ResponseAction, SessionId, Severity } from '@vigie/contract';
import { parseDuration } from '@vigie/policy';

/** Query string of `GET /api/alerts`. */
export const AlertQuery = z
  .object({
    rule: z.string().min(1).max(200).optional().describe('Rule id, e.g. `dump`.'),
    severity: Severity.optional(),
    status: z.enum(['firing', 'resolved']).optional(),
    since: z.iso
      .datetime({ offset: true })
      .optional()
      .describe('Only alerts last seen at or after this instant (ISO 8601).'),
    role: z.string().min(1).max(200).optional().describe('Login or effective role.'),
    cluster: z.string().min(1).max(200).optional(),
    limit: z.coerce.number().int().min(1).max(1000).default(100),
  })
  .strict();
export type AlertQuery = z.infer<typeof AlertQuery>;

/** Path parameters of `/api/alerts/:id`. */
export const AlertParams = z.object({ id: z.string().min(1).max(500) });

/** Path parameters of `/api/sessions/:cluster/:sessionId`. */
export const SessionParams = z.object({ cluster: z.string().min(1).max(200), sessionId: SessionId });

/** Query string of the session timeline. */
export const TimelineQuery = z.object({ limit: z.coerce.number().int().min(1).max(5000).default(1000) }).strict();

/** Body of `POST /api/alerts/:id/ack`. */
export const AckBody = z
  .object({
    by: z.string().trim().min(1).max(200).describe('Who acknowledges (a name or on-call handle).'),
    comment: z.string().max(2000).optional(),
  })
  .strict();
export type AckBody = z.infer<typeof AckBody>;

/** What a human did with an alert. */
export const AckInfo = z.object({ at: z.iso.datetime(), by: z.string(), comment: z.string().optional() });

/** An alert as the API returns it. */
export const AlertRecord = z.object({
  alert: Alert,
  ack: AckInfo.optional(),
  updatedAt: z.iso.datetime(),
  links: z.object({ self: z.string(), timeline: z.string().optional() }),
});

/** Response of `GET /api/alerts`. */
export const AlertList = z.object({ alerts: z.array(AlertRecord) });

/** One redacted event of a session timeline. */
export const TimelineEvent = z.object({
  eventId: z.string(),
  ts: z.iso.datetime(),
  kind: z.string(),
  body: z.record(z.string(), z.unknown()),
});

/** Response of `GET /api/sessions/:cluster/:sessionId`. */
export const SessionTimeline = z.object({
  cluster: z.string(),
  sessionId: z.string(),
  events: z.array(TimelineEvent),
  /** True when `limit` cut the timeline. */
  truncated: z.boolean(),
});

/** Every 4xx/5xx body. */
export const ApiError = z.object({
  error: z.string().describe('A VIGIE_API_* code.'),
  message: z.string().describe('A generic message: never a driver message, a stack trace or request data.'),
  requestId: z.string().optional().describe("Quote it to an operator: the service log has this request's error."),
  details: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
});
export type ApiError = z.infer<typeof ApiError>;

/** Body of `POST /api/alerts/:id/response`: terminate the alert's session and/or lock its login for a while. */
export const ResponseBody = z
  .object({
    terminate: z.boolean().default(false).describe("pg_terminate_backend of the alert's session."),
    lock: z.boolean().default(false).describe('ALTER ROLE … NOLOGIN of its login role, LOGIN restored at expiry.'),
    lockFor: z
      .string()
      .refine((s) => parseDuration(s) !== undefined, 'a duration such as 20s, 15m, 4h or 7d')
      .optional()
      .describe("Lock duration (default: the policy's response.lockFor; at most response.maxLockFor)."),
    dryRun: z.boolean().default(true).describe('Default true: only says what would be done. false to act.'),
    by: z.string().trim().min(1).max(200).describe('Who asks (a name or on-call handle), recorded with each action.'),
  })
  .strict()
  .refine((b) => b.terminate || b.lock, { message: 'ask for terminate and/or lock' });
export type ResponseBody = z.infer<typeof ResponseBody>;

/** Response of `POST /api/alerts/:id/response` (refusals are a 403 ApiError naming every reason). */
export const ResponseResult = z.object({
  status: z.enum(['dry-run', 'done']),
  actions: z.array(ResponseAction),
  alert: AlertRecord.optional(),
});
