import { z } from 'zod';
import { TOPICS } from '@vigie/contract';
import { httpSettings, kafkaSettings, logSettings, topicPartitions } from '@vigie/runtime';

/** Default port of the collector's HTTP server (/metrics, /healthz, /readyz). */
export const DEFAULT_EGRESS_PORT = 18083;

const Postgres = z.object({
  host: z
    .string()
    .min(1)
    .default('127.0.0.1')
    .describe('PostgreSQL host, normally this host (the collector runs here).'),
  port: z.number().int().min(1).max(65535).default(55432).describe('PostgreSQL port for the pg_stat_activity queries.'),
  user: z
    .string()
    .min(1)
    .default('vigie_collector')
    .describe('Role that reads pg_stat_activity; needs pg_read_all_stats (or pg_monitor) to see other sessions.'),
  password: z
    .string()
    .optional()
    .describe('Password of `user`; prefer VIGIE_POSTGRES__PASSWORD or a ~/.pgpass entry to a file.'),
  database: z.string().min(1).default('postgres').describe('Any database: pg_stat_activity is cluster-wide.'),
});

/**
 * The collector-egress settings. Every field has a default that works with the local stack; the collector runs on
 * the database host, as root or as the PostgreSQL OS user (see the README for the privileges).
 */
export const EgressConfig = z
  .object({
    cluster: z.string().min(1).default('local').describe('Name of the monitored cluster in the site policy.'),
    instance: z.string().min(1).optional().describe('Name of this collector in heartbeats; the host name when absent.'),
    serverPort: z
      .number()
      .int()
      .min(1)
      .max(65535)
      .default(55432)
      .describe('TCP port PostgreSQL listens on: the sockets whose local port is this one are measured.'),
    intervalMs: z
      .number()
      .int()
      .min(100)
      .default(1000)
      .describe('Sampling period of the established sockets (one `ss` run per period).'),
    activityIntervalMs: z
      .number()
      .int()
      .min(50)
      .default(250)
      .describe(
        'Period of the pg_stat_activity poll that remembers each session by client address and port, so a ' +
          'connection shorter than one sampling period can still be joined when it closes (a new client end in a ' +
          'sample is looked up at once). At 1000 ms a one-second session was missed in testing; unjoined bytes are ' +
          'still counted by client address, but without the session they lose who sent them.',
      ),
    activityRetentionMs: z
      .number()
      .int()
      .min(1000)
      .default(120_000)
      .describe('How long a session that left pg_stat_activity is remembered for the close-event join.'),
    heartbeatIntervalMs: z.number().int().min(100).default(10_000).describe('Period of collector.heartbeat events.'),
    ssCommand: z.string().min(1).default('ss').describe('The iproute2 `ss` binary (a path, or a name on PATH).'),
    stdbufCommand: z
      .string()
      .min(1)
      .default('stdbuf')
      .describe("coreutils' stdbuf: makes `ss -E` write each close event at once instead of 4 KiB at a time."),
    ssTimeoutMs: z.number().int().min(100).default(5000).describe('A sampling `ss` run taking longer is killed.'),
    maxPendingEvents: z
      .number()
      .int()
      .min(100)
      .default(100_000)
      .describe('Final samples kept while Kafka is unreachable; beyond, they are dropped and counted.'),
    postgres: Postgres.prefault({}).describe('Connection used to read pg_stat_activity.'),
    kafka: kafkaSettings('vigie-collector-egress', { partitions: topicPartitions() }),
    topics: z
      .object({
        egress: z.string().min(1).default(TOPICS.egress).describe('Topic of egress.sample events.'),
        activity: z.string().min(1).default(TOPICS.activity).describe('Topic of collector heartbeats.'),
        deadletter: z
          .string()
          .min(1)
          .default(TOPICS.deadletter)
          .describe('Topic of the dead letters that replace events Kafka refused for good.'),
      })
      .prefault({}),
    http: httpSettings(DEFAULT_EGRESS_PORT),
    log: logSettings(),
  })
  .refine((c) => c.activityIntervalMs <= c.intervalMs, {
    message:
      'activityIntervalMs must not exceed intervalMs: the activity poll exists to catch sessions shorter than one ' +
      'sampling period',
    path: ['activityIntervalMs'],
  });
export type EgressConfig = z.infer<typeof EgressConfig>;
