import { z } from 'zod';
import { TOPICS } from '@vigie/contract';
import { httpSettings, kafkaSettings, logSettings } from '@vigie/runtime';

/** Default port of the detector's HTTP server (API + /metrics + /healthz + /readyz). */
export const DEFAULT_DETECTOR_PORT = 18080;

/**
 * The detector's settings. Every field has a default that works with the local stack, except the API token: the
 * API serves evidence about people, so it refuses to start without `api.token` unless `api.allowAnonymous` is set.
 */
export const DetectorConfig = z
  .object({
    cluster: z.string().min(1).default('local').describe('Name of the monitored cluster in the site policy.'),
    kafka: kafkaSettings('vigie-detector', {
      groupId: z
        .string()
        .min(1)
        .default('vigie-detector')
        .describe('Consumer group; every detector instance of one deployment shares it.'),
      partitions: z
        .number()
        .int()
        .positive()
        .default(3)
        .describe('Partitions of the topics the detector creates when they do not exist yet.'),
    }),
    topics: z
      .object({
        activity: z.string().min(1).default(TOPICS.activity).describe('Topic of log activity events.'),
        egress: z.string().min(1).default(TOPICS.egress).describe('Topic of egress samples.'),
        changes: z.string().min(1).default(TOPICS.changes).describe('Topic of replication change summaries.'),
        alerts: z.string().min(1).default(TOPICS.alerts).describe('Topic the detector publishes alerts to.'),
        deadletter: z
          .string()
          .min(1)
          .default(TOPICS.deadletter)
          .describe('Topic of messages the detector could not decode.'),
      })
      .prefault({}),
    http: httpSettings(DEFAULT_DETECTOR_PORT, {
      publicUrl: z
        .url()
        .optional()
        .describe('Base URL on-call uses to reach the API (evidence links); defaults to http://host:port.'),
    }),
    api: z
      .object({
        token: z
          .string()
          .min(16, 'a token of at least 16 characters')
          .optional()
          .describe('Bearer token required on /api/* (env VIGIE_API__TOKEN).'),
        allowAnonymous: z
          .boolean()
          .default(false)
          .describe('Serve /api/* without a token. Only for a laptop: the API shows who read what.'),
      })
      .prefault({}),
    store: z
      .object({
        connectionString: z
          .string()
          .min(1)
          .default('postgresql://vigie:vigie@127.0.0.1:55432/vigie')
          .describe('PostgreSQL database of the alert store (migrations are applied at startup).'),
        schema: z
          .string()
          .regex(/^[a-z_][a-z0-9_]{0,62}$/, 'a lower-case SQL identifier')
          .default('public')
          .describe('Schema of the store tables (tests use a unique one).'),
        timelinePreAlertEvents: z
          .number()
          .int()
          .min(0)
          .max(1000)
          .default(32)
          .describe('Recent events kept in memory per session, written to the timeline when the session alerts.'),
        timelineMaxEventsPerSession: z
          .number()
          .int()
          .positive()
          .default(2000)
          .describe('Most events stored in the timeline of one alerting session.'),
        timelineRetentionDays: z
          .number()
          .positive()
          .default(30)
          .describe('Timeline events older than this are deleted (alerts are kept).'),
      })
      .prefault({}),
    alertmanager: z
      .object({
        url: z
          .union([z.url(), z.literal('')])
          .default('http://127.0.0.1:19093')
          .describe('Alertmanager base URL; empty string disables the push.'),
        resendIntervalMs: z
          .number()
          .int()
          .positive()
          .default(60_000)
          .describe('Firing alerts are re-sent this often (Alertmanager resolves them after resolve_timeout).'),
        timeoutMs: z.number().int().positive().default(5_000).describe('Timeout of one push.'),
        maxQueue: z
          .number()
          .int()
          .positive()
          .default(10_000)
          .describe('Alerts waiting for Alertmanager (latest state per alert id); the oldest is dropped beyond.'),
        runbookBaseUrl: z
          .string()
          .default('https://github.com/vigie/vigie/blob/main/README.md#rule-')
          .describe('runbook_url annotation = this + rule id.'),
      })
      .prefault({}),
    engine: z
      .object({
        tickIntervalMs: z.number().int().positive().default(5_000).describe('How often resolutions and evictions run.'),
        maxSessions: z.number().int().positive().default(50_000).describe('Most sessions tracked at once.'),
        idleSessionMs: z
          .number()
          .int()
          .positive()
          .default(30 * 60_000)
          .describe('A session with no event for this long is evicted.'),
        rulesFile: z.string().optional().describe('Site rule overrides (YAML), on top of the shipped rules.'),
        revisions: z
          .object({
            countsEveryMs: z
              .number()
              .int()
              .min(0)
              .default(60_000)
              .describe(
                'A count (rows, bytes, statements) reaching the next power of two re-publishes an alert at most this often.',
              ),
            refreshEveryMs: z
              .number()
              .int()
              .min(0)
              .default(5 * 60_000)
              .describe(
                'Any other change of an alert (counts, last seen, evidence) is re-published at most this often; severity, status, a new table or object and the acting role are re-published at once. Alertmanager stays fresh through alertmanager.resendIntervalMs, not through revisions.',
              ),
          })
          .prefault({})
          .describe('When an alert is re-published to Kafka, the store and Alertmanager (a new revision).'),
      })
      .prefault({}),
    privileged: z
      .object({
        connectionString: z
          .string()
          .default('postgresql://vigie_collector:vigie_collector@127.0.0.1:55432/postgres')
          .describe(
            'Monitored cluster, to read privileged roles from its catalog (any login role can read pg_roles); empty string: only the policy list counts.',
          ),
        refreshIntervalMs: z
          .number()
          .int()
          .positive()
          .default(5 * 60_000)
          .describe('How often the privileged roles are re-read.'),
      })
      .prefault({}),
    log: logSettings(),
  })
  .superRefine(
    (c, ctx) => {
      // Runs even when other fields failed (`when`), so one start lists every problem; `c` may be partly invalid.
      const api = (c as { api?: { token?: unknown; allowAnonymous?: unknown } }).api;
      if (api?.token === undefined && api?.allowAnonymous !== true) {
        ctx.addIssue({
          code: 'custom',
          path: ['api', 'token'],
          message:
            'an API token (set api.token or VIGIE_API__TOKEN; e.g. `openssl rand -hex 24`), or api.allowAnonymous: true on a laptop',
        });
      }
    },
    { when: () => true },
  );

/** Validated detector settings. */
export type DetectorConfig = z.infer<typeof DetectorConfig>;
/** What a caller may pass to {@link DetectorConfig} (every field optional). */
export type DetectorConfigInput = z.input<typeof DetectorConfig>;
