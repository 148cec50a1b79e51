import { TOPICS } from '@vigie/contract';
import { httpSettings, kafkaSettings, logSettings, memorySettings } from '@vigie/runtime';

/** Port of `/metrics`, `/healthz`, `/readyz` (Prometheus scrapes collector-pglog there). */
export const DEFAULT_PGLOG_PORT = 18081;
import { z } from 'zod';
import { PGAUDIT_CLASSES } from './source-settings.js';

/** Settings of collector-pglog (YAML file + `VIGIE_<SECTION>__<KEY>` environment overrides). */
export const CollectorPglogConfig = z
  .object({
    cluster: z.string().min(1).default('local').describe('cluster name: first part of event ids and Kafka keys'),
    instance: z.string().min(1).default('collector-pglog').describe('name of this collector instance (heartbeats)'),
    source: z
      .object({
        format: z.enum(['jsonlog', 'csvlog']).default('jsonlog').describe('log format to read'),
        pgData: z
          .string()
          .optional()
          .describe('PostgreSQL data directory: the current file is read from $PGDATA/current_logfiles'),
        logDirectory: z
          .string()
          .optional()
          .describe('log directory, when current_logfiles is not readable (absolute, or relative to pgData)'),
        pattern: z
          .string()
          .optional()
          .describe('regular expression of log file names (default: ^postgresql-.*\\.json$, .csv$ for csvlog)'),
        pollIntervalMs: z.number().int().min(10).max(10_000).default(150).describe('wait at end of file, ms'),
        chunkBytes: z
          .number()
          .int()
          .min(4096)
          .default(128 << 10)
          .describe(
            'bytes read per read() call (a longer record is read in larger reads); 128 KiB: 1 MiB chunks cost 40% more CPU in garbage collection',
          ),
        maxRecordBytes: z
          .number()
          .int()
          .min(1024)
          .default(32 << 20)
          .describe('longer records are skipped and dead-lettered as oversized_record'),
        mergeFlushMs: z
          .number()
          .int()
          .min(0)
          .default(500)
          .describe('a statement whose pgaudit lines stopped arriving is emitted after this long'),
        maxSessions: z.number().int().min(100).default(20_000).describe('sessions remembered (SET ROLE, app name)'),
        retryBaseMs: z
          .number()
          .int()
          .min(10)
          .default(200)
          .describe('first wait before reading again after a log file could not be opened or read, ms (doubles)'),
        retryMaxMs: z
          .number()
          .int()
          .min(100)
          .default(30_000)
          .describe('longest wait between two attempts to read an unreadable log file, ms'),
      })
      .prefault({}),
    checkpoint: z
      .object({
        file: z.string().default('./collector-pglog.checkpoint.json').describe('checkpoint file (JSON, atomic)'),
        intervalMs: z.number().int().min(10).default(500).describe('most frequent checkpoint write, ms'),
        startAt: z
          .enum(['beginning', 'end'])
          .default('end')
          .describe('without a checkpoint: read the current file from its beginning, or only new records'),
      })
      .prefault({}),
    redaction: z
      .object({
        enabled: z
          .boolean()
          .default(true)
          .describe('replace literals by $n in statements, messages and dead letters; false is logged as a warning'),
        hmacKey: z
          .string()
          .min(16)
          .optional()
          .describe('site secret for parameter hashes (set it from the environment: VIGIE_REDACTION__HMAC_KEY)'),
      })
      .prefault({}),
    analysis: z
      .object({ cacheSize: z.number().int().min(0).default(10_000).describe('SQL analyses cached by statement shape') })
      .prefault({}),
    kafka: kafkaSettings('vigie-collector-pglog', {
      batchMaxEvents: z.number().int().min(1).default(2000).describe('events per Kafka batch at most'),
      batchMaxBytes: z
        .number()
        .int()
        .min(1024)
        .default(512 << 10)
        .describe('encoded bytes per Kafka batch at most (stay below the broker message.max.bytes)'),
      maxInFlightEvents: z
        .number()
        .int()
        .min(1)
        .default(6000)
        .describe(
          'events sent but not acknowledged before reading stops (backpressure); three default batches keep the sequential producer busy',
        ),
      maxInFlightBytes: z
        .number()
        .int()
        .min(1024)
        .default(4 << 20)
        .describe('encoded bytes sent but not acknowledged before reading stops'),
    }),
    validateEvery: z
      .number()
      .int()
      .min(1)
      .default(1000)
      .describe('validate one event in N against the contract with zod before sending (1 = every event)'),
    topics: z
      .object({
        activity: z.string().default(TOPICS.activity).describe('events topic'),
        deadletter: z.string().default(TOPICS.deadletter).describe('dead-letter topic'),
      })
      .prefault({}),
    heartbeatIntervalMs: z.number().int().min(100).default(10_000).describe('collector.heartbeat period, ms'),
    settingsCheck: z
      .object({
        enabled: z
          .boolean()
          .default(false)
          .describe(
            'check at start and every intervalMs that the server still audits what Vigie needs (audit.settings events)',
          ),
        host: z.string().min(1).default('127.0.0.1').describe('PostgreSQL host of the monitored server'),
        port: z.number().int().min(1).max(65535).default(55432).describe('its port'),
        user: z
          .string()
          .min(1)
          .default('vigie_collector')
          .describe('a read-only role; pg_read_all_settings (or pg_monitor) shows every setting'),
        password: z
          .string()
          .optional()
          .describe('password of user; prefer VIGIE_SETTINGS_CHECK__PASSWORD or a ~/.pgpass entry to a file'),
        database: z.string().min(1).default('postgres').describe('any database (the settings read are cluster-wide)'),
        intervalMs: z.number().int().min(1000).default(60_000).describe('period of the check, ms'),
        pgauditClasses: z
          .array(z.enum(PGAUDIT_CLASSES))
          .default(['read', 'write', 'role', 'ddl', 'misc'])
          .describe('classes pgaudit.log must include, on the server and in every per-role/per-database override'),
        allow: z
          .array(
            z
              .object({
                role: z.string().optional().describe('role name or pattern'),
                database: z.string().optional().describe('database name or pattern'),
                setting: z.string().optional().describe('setting name or pattern'),
              })
              .strict(),
          )
          .default([])
          .describe(
            "per-role/per-database overrides the site accepts (e.g. { database: vigie, setting: 'pgaudit.log' } for Vigie's own store)",
          ),
      })
      .prefault({}),
    memory: memorySettings(
      50,
      'Little reaches the old generation, so full collections are rare: 50 costs no measurable CPU against 150 and ~15 MB less peak RSS end to end (bench/pglog-throughput.ts).',
    ),
    http: httpSettings(DEFAULT_PGLOG_PORT),
    log: logSettings(),
  })
  .refine((c) => c.source.pgData !== undefined || c.source.logDirectory !== undefined, {
    message: 'set source.pgData (preferred: follows current_logfiles) or source.logDirectory',
    path: ['source'],
  });
export type CollectorPglogConfig = z.infer<typeof CollectorPglogConfig>;
