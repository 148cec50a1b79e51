import { z } from 'zod';
import { CollectorName, TOPICS } from '@vigie/contract';
import {
  checkWhenShaped,
  httpSettings,
  kafkaSettings,
  logSettings,
  profileSetting,
  publishedCredentialProblem,
  memorySettings,
} from '@vigie/runtime';

/** Default port of the detector's HTTP server (API + /metrics + /healthz + /readyz). */
export const DEFAULT_DETECTOR_PORT = 18080;

/**
 * The local stack's connections (deploy/local/sql/roles.sql): defaults only with `profile: local`, because their
 * passwords are published. `vigie_detector` reads and writes the store; `vigie` owns it and migrates it.
 */
export const LOCAL_STACK_CONNECTIONS = {
  store: 'postgresql://vigie_detector:vigie_detector@127.0.0.1:55432/vigie',
  storeOwner: 'postgresql://vigie:vigie@127.0.0.1:55432/vigie',
  privileged: 'postgresql://vigie_collector:vigie_collector@127.0.0.1:55432/postgres',
  responder: 'postgresql://vigie_responder:vigie_responder@127.0.0.1:55432/postgres',
} as const;

/**
 * The detector's settings. Every field has a default, except the API token (the API serves evidence about people,
 * so it refuses to start without `api.token` unless `api.allowAnonymous` is set on a laptop) and, outside
 * `profile: local`, the connections, whose local defaults carry the local stack's published passwords.
 */
export const DetectorConfig = z
  .object({
    profile: profileSetting(),
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
      sessionTimeoutMs: z
        .number()
        .int()
        .min(3_000)
        .default(30_000)
        .describe(
          'How long the group waits for a silent instance (crashed, killed) before its partitions go to the others.',
        ),
      lagIntervalMs: z
        .number()
        .int()
        .positive()
        .default(15_000)
        .describe('How often the consumer lag (vigie_consumer_lag_messages) is measured.'),
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
    memory: memorySettings(
      100,
      'The detector holds ~50 MB of live state and its garbage is short-lived: 100 bounds the draining RSS for a few percent of CPU (bench/scale-out.ts).',
    ),
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
          .describe(
            "Shared bearer token of /api/*, also accepted by the evidence pages' sign-in (env VIGIE_API__TOKEN).",
          ),
        users: z
          .array(
            z
              .object({
                name: z
                  .string()
                  .trim()
                  .min(1)
                  .max(100)
                  .describe(
                    'Who holds the token: acknowledgements made after signing in with it are recorded under this name.',
                  ),
                token: z.string().min(16, 'a token of at least 16 characters').optional().describe('The token itself.'),
                tokenFile: z
                  .string()
                  .min(1)
                  .optional()
                  .describe('A file holding the token (read at startup, trimmed); keeps it out of the configuration.'),
              })
              .strict()
              .refine((u) => (u.token === undefined) !== (u.tokenFile === undefined), {
                message: 'exactly one of token or tokenFile',
              }),
          )
          .default([])
          .describe(
            'Personal tokens: each works as a bearer token on /api/* and signs its holder in to the evidence pages under their name.',
          ),
        sessionIdleMs: z
          .number()
          .int()
          .positive()
          .default(60 * 60_000)
          .describe('An evidence-page session unused for this long ends (sign in again).'),
        sessionMaxMs: z
          .number()
          .int()
          .positive()
          .default(12 * 60 * 60_000)
          .describe('An evidence-page session ends this long after sign-in, used or not.'),
        allowAnonymous: z
          .boolean()
          .default(false)
          .describe(
            'Serve /api/* without a token. Only for a laptop (refused with profile: production): the API shows who read what.',
          ),
      })
      .prefault({}),
    store: z
      .object({
        connectionString: z
          .string()
          .min(1)
          .optional()
          .describe(
            'Alert store, as its runtime role: SELECT, INSERT, UPDATE on the store tables, DELETE on the timeline only (env VIGIE_STORE__CONNECTION_STRING). Required with profile: production; local: vigie_detector on the local stack.',
          ),
        migrationConnectionString: z
          .string()
          .min(1)
          .optional()
          .describe(
            "Alert store, as the owner of its schema: migrations and the runtime role's grants are applied through it at startup. Absent: the detector only checks that the schema is current (apply migrations with `vigie store-migrate`). Local default: vigie.",
          ),
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
        rebuildWindowMs: z
          .number()
          .int()
          .min(0)
          .default(60 * 60_000)
          .describe(
            "When this instance is given a partition (at start, after a rebalance), it replays the partition's events of this last period to rebuild the rules' state; 0: start empty.",
          ),
        rebuildMaxEvents: z
          .number()
          .int()
          .positive()
          .default(100_000)
          .describe(
            'At most this many of the newest events per input topic are replayed when a partition is opened (held in memory meanwhile, ~1 KB each).',
          ),
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
    collectors: z
      .object({
        expected: z
          .array(
            z
              .object({
                cluster: z.string().min(1).optional().describe('Cluster of the collector (default: cluster).'),
                collector: CollectorName.describe('collector-pglog, collector-replication or collector-egress.'),
                instance: z.string().min(1).optional().describe('Its instance name; any instance when absent.'),
              })
              .strict(),
          )
          .default([])
          .describe(
            'Collectors that must be running: the collector-silent rule reports one that goes silent or never starts (collectors heard once are watched anyway).',
          ),
      })
      .prefault({}),
    privileged: z
      .object({
        connectionString: z
          .string()
          .optional()
          .describe(
            'Monitored cluster, to read privileged roles from its catalog (any login role can read pg_roles); empty string: only the policy list counts. Required with profile: production; local: vigie_collector on the local stack.',
          ),
        refreshIntervalMs: z
          .number()
          .int()
          .positive()
          .default(5 * 60_000)
          .describe('How often the privileged roles are re-read.'),
      })
      .prefault({}),
    responder: z
      .object({
        connectionString: z
          .string()
          .optional()
          .describe(
            "Monitored cluster, as the responder role (vigie_responder: pg_signal_backend, pg_read_all_stats, CREATEROLE) that `vigie respond` terminates sessions and locks logins with (env VIGIE_RESPONDER__CONNECTION_STRING). Absent or '': responses are refused (503). Local: vigie_responder on the local stack.",
          ),
        retryMs: z
          .number()
          .int()
          .positive()
          .default(30_000)
          .describe('Wait before retrying to restore LOGIN when an expired lock could not be lifted.'),
      })
      .prefault({}),
    log: logSettings(),
  })
  .superRefine((c, ctx) => {
    // Runs even when other fields failed (checkWhenShaped), so one start lists every problem; `c` may be partly
    // invalid, so every member is read defensively.
    const raw = c as {
      profile?: unknown;
      api?: { token?: unknown; users?: unknown; allowAnonymous?: unknown } | null;
      store?: { connectionString?: unknown; migrationConnectionString?: unknown } | null;
      privileged?: { connectionString?: unknown } | null;
      responder?: { connectionString?: unknown } | null;
    };
    const api = raw.api;
    const hasUsers = Array.isArray(api?.users) && api.users.length > 0;
    if (api?.token === undefined && !hasUsers && api?.allowAnonymous !== true) {
      ctx.addIssue({
        code: 'custom',
        path: ['api', 'token'],
        message:
          'an API token (set api.token or VIGIE_API__TOKEN; e.g. `openssl rand -hex 24`) or api.users, or api.allowAnonymous: true on a laptop',
      });
    }
    if (raw.profile === 'local') return;
    if (api?.allowAnonymous === true) {
      ctx.addIssue({
        code: 'custom',
        path: ['api', 'allowAnonymous'],
        message: 'false with profile: production (anonymous access to evidence is for a laptop: profile: local)',
      });
    }
    const connections: [string[], unknown, string | undefined][] = [
      [
        ['store', 'connectionString'],
        raw.store?.connectionString,
        "the alert store's connection as its runtime role (the local stack's default applies only with profile: local)",
      ],
      [['store', 'migrationConnectionString'], raw.store?.migrationConnectionString, undefined],
      [
        ['privileged', 'connectionString'],
        raw.privileged?.connectionString,
        "a connection to the monitored cluster, or '' to rely on the policy's roles.privileged only (the local stack's default applies only with profile: local)",
      ],
      [['responder', 'connectionString'], raw.responder?.connectionString, undefined],
    ];
    for (const [path, value, required] of connections) {
      if (value === undefined && required !== undefined) {
        ctx.addIssue({ code: 'custom', path, message: required });
      } else if (typeof value === 'string') {
        const problem = publishedCredentialProblem(value);
        if (problem !== undefined) {
          ctx.addIssue({
            code: 'custom',
            path,
            message: `a credential of this site with profile: production, not ${problem}`,
          });
        }
      }
    }
  }, checkWhenShaped('object'))
  .transform((c) => {
    if (c.profile !== 'local') {
      // Checked above: production gives both; migrations are optional there.
      return {
        ...c,
        store: { ...c.store, connectionString: c.store.connectionString ?? '' },
        privileged: { ...c.privileged, connectionString: c.privileged.connectionString ?? '' },
        responder: { ...c.responder, connectionString: c.responder.connectionString ?? '' },
      };
    }
    return {
      ...c,
      store: {
        ...c.store,
        connectionString: c.store.connectionString ?? LOCAL_STACK_CONNECTIONS.store,
        migrationConnectionString: c.store.migrationConnectionString ?? LOCAL_STACK_CONNECTIONS.storeOwner,
      },
      privileged: {
        ...c.privileged,
        connectionString: c.privileged.connectionString ?? LOCAL_STACK_CONNECTIONS.privileged,
      },
      responder: {
        ...c.responder,
        connectionString: c.responder.connectionString ?? LOCAL_STACK_CONNECTIONS.responder,
      },
    };
  });

/** Validated detector settings. */
export type DetectorConfig = z.infer<typeof DetectorConfig>;
/** What a caller may pass to {@link DetectorConfig} (every field optional). */
export type DetectorConfigInput = z.input<typeof DetectorConfig>;
