import { z } from 'zod';
import { TOPICS } from '@vigie/contract';
import { httpSettings, kafkaSettings, logSettings, topicPartitions } from '@vigie/runtime';

/** Default port of the collector's HTTP server (/metrics, /healthz, /readyz). */
export const DEFAULT_REPLICATION_PORT = 18082;

// Slot and publication names go into replication commands and DDL; PostgreSQL itself only allows this for slots.
const Identifier = z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/, 'a lower-case identifier ([a-z_][a-z0-9_]*, ≤ 63)');

const Connection = z.object({
  host: z.string().min(1).default('127.0.0.1').describe('PostgreSQL host (the primary).'),
  port: z.number().int().min(1).max(65535).default(55432).describe('PostgreSQL port.'),
  database: z.string().min(1).default('app').describe('Database whose changes are streamed (a slot is per database).'),
  user: z
    .string()
    .min(1)
    .default('vigie_collector')
    .describe('Role with REPLICATION (stream, create the slot) and pg_monitor (slot health).'),
  password: z
    .string()
    .optional()
    .describe('Password of `user`; prefer VIGIE_CONNECTION__PASSWORD or a ~/.pgpass entry to a file.'),
});

/**
 * The collector-replication settings. Every field has a default that works with the local stack. The publication
 * is created FOR ALL TABLES, which needs a superuser: give a `setup` role, or let a DBA create it once (the
 * collector then refuses to start and prints the statement to run).
 */
export const ReplicationConfig = z
  .object({
    cluster: z.string().min(1).default('local').describe('Name of the monitored cluster in the site policy.'),
    connection: Connection.prefault({}).describe('Streaming and monitoring connection.'),
    setup: z
      .object({
        user: z.string().min(1).describe('Superuser used only to create the publication when it is missing.'),
        password: z.string().optional().describe('Its password (VIGIE_SETUP__PASSWORD).'),
      })
      .optional()
      .describe('Optional: a role allowed to CREATE PUBLICATION … FOR ALL TABLES; absent = a DBA creates it.'),
    slot: Identifier.default('vigie_slot').describe('Logical slot (pgoutput) the collector creates and reads.'),
    publication: Identifier.default('vigie_pub').describe('Publication (FOR ALL TABLES) the slot streams.'),
    messages: z
      .object({
        prefix: z
          .string()
          .default('vigie')
          .describe('Transactional logical messages whose prefix starts with this become annotations.'),
        maxPerTxn: z.number().int().min(0).default(20).describe('Annotations kept per transaction.'),
        maxChars: z.number().int().min(1).default(500).describe('Annotation content is cut to this length.'),
      })
      .prefault({}),
    personalData: z
      .object({
        scan: z
          .enum(['auto', 'on', 'off'])
          .default('auto')
          .describe('Inspect written rows for NIR/IBAN/e-mail/phone: auto = when the policy says pre-production.'),
      })
      .prefault({}),
    health: z
      .object({
        intervalMs: z.number().int().min(100).default(30_000).describe('Slot/publication poll and heartbeat period.'),
        maxSlotSeries: z
          .number()
          .int()
          .min(1)
          .default(20)
          .describe('Slots given their own metric series; beyond, they are summed under slot="_other".'),
      })
      .prefault({}),
    batch: z
      .object({
        maxEvents: z.number().int().min(1).default(500).describe('Events per Kafka request.'),
        maxPending: z
          .number()
          .int()
          .min(1)
          .default(5000)
          .describe('Events waiting for Kafka before the stream is paused (backpressure).'),
      })
      .prefault({}),
    reconnect: z
      .object({
        maxBackoffMs: z.number().int().min(10).default(10_000).describe('Longest wait between reconnections.'),
      })
      .prefault({}),
    kafka: kafkaSettings('vigie-collector-replication', { partitions: topicPartitions() }),
    topics: z
      .object({
        changes: z.string().min(1).default(TOPICS.changes).describe('Topic of change.txn and slot/publication events.'),
        activity: z.string().min(1).default(TOPICS.activity).describe('Topic of collector heartbeats.'),
        deadletter: z
          .string()
          .min(1)
          .default(TOPICS.deadletter)
          .describe('Topic of the dead letters that replace events Kafka refused for good.'),
      })
      .prefault({}),
    http: httpSettings(DEFAULT_REPLICATION_PORT),
    log: logSettings(),
  })
  .refine((c) => c.batch.maxEvents <= c.batch.maxPending, {
    message: 'batch.maxEvents must not exceed batch.maxPending (a batch could never fill)',
    path: ['batch', 'maxEvents'],
  });
export type ReplicationConfig = z.infer<typeof ReplicationConfig>;
