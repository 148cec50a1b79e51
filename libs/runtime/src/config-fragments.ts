import { setFlagsFromString } from 'node:v8';
import * as zlib from 'node:zlib';
import { z } from 'zod';
import { connectionCredentials } from './config-secrets.js';

/** Log levels every service accepts (pino's). */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** `log:` of every service configuration. */
export function logSettings() {
  return z.object({ level: z.enum(LOG_LEVELS).default('info').describe('Service log level (pino).') }).prefault({});
}

// Every field of these blocks has a default (extras must too), so an absent block is `{}` filled in; TypeScript
// cannot check that for a generic `extra`, hence `{} as never` below.

/** `http:` of every service configuration: where `/metrics`, `/healthz`, `/readyz` (and the API) listen. */
export function httpSettings<E extends z.ZodRawShape = Record<never, never>>(defaultPort: number, extra?: E) {
  return z
    .object({
      host: z.string().min(1).default('127.0.0.1').describe('Address the HTTP server listens on.'),
      port: z
        .number()
        .int()
        .min(0)
        .max(65535)
        .default(defaultPort)
        .describe('Port of the HTTP server; 0 picks a free one (tests).'),
      ...(extra ?? ({} as E)),
    })
    .prefault({} as never);
}

/** Whether this Node runtime has zstd in `node:zlib` (Node >= 22.15 / 23.8). */
const ZSTD_IN_RUNTIME = typeof (zlib as unknown as { zstdCompress?: unknown }).zstdCompress === 'function';

/** `kafka.ssl:` TLS to the brokers. Present (even `{}`) means TLS; absent means plain TCP. */
export function kafkaSslSettings() {
  return z
    .object({
      caFile: z
        .string()
        .min(1)
        .optional()
        .describe("PEM file of the CA(s) that sign the brokers' certificates; absent: the system's trusted CAs."),
      certFile: z.string().min(1).optional().describe('PEM client certificate (chain) for mutual TLS; needs keyFile.'),
      keyFile: z.string().min(1).optional().describe('PEM private key of certFile (unencrypted; keep it 0600).'),
      serverName: z
        .string()
        .min(1)
        .optional()
        .describe(
          "Name the brokers' certificates must carry, when it is not the host in kafka.brokers (also sent as SNI).",
        ),
      checkServerName: z
        .boolean()
        .default(true)
        .describe(
          "Check that each broker's certificate names the address it was reached at (or serverName). The chain is always checked.",
        ),
    })
    .strict()
    .refine((s) => (s.certFile === undefined) === (s.keyFile === undefined), {
      message: 'certFile and keyFile go together (mutual TLS needs both)',
    });
}

/** `kafka.sasl:` SASL authentication (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512); absent means none. */
export function kafkaSaslSettings() {
  return z
    .object({
      mechanism: z
        .enum(['plain', 'scram-sha-256', 'scram-sha-512'])
        .default('scram-sha-512')
        .describe('SASL mechanism; plain sends the password itself, so only over kafka.ssl.'),
      username: z.string().min(1).describe('SASL user name (one per service, so ACLs can tell them apart).'),
      password: z
        .string()
        .min(1)
        .optional()
        .describe('The password, from the environment only (VIGIE_KAFKA__SASL__PASSWORD); never write it in a file.'),
      passwordFile: z
        .string()
        .min(1)
        .optional()
        .describe('File holding the password (one line; a trailing newline is ignored); keep it 0600.'),
    })
    .strict()
    .refine((s) => (s.password === undefined) !== (s.passwordFile === undefined), {
      message: 'exactly one of password (from the environment) or passwordFile',
    });
}

/** `kafka.topics:` durability of the topics a service creates, and the check of those it finds. */
export function kafkaTopicSettings() {
  return z
    .object({
      replicationFactor: z
        .number()
        .int()
        .min(1)
        .default(3)
        .describe('Replication factor of topics created when missing (the one-broker local stack uses 1).'),
      minInsyncReplicas: z
        .number()
        .int()
        .min(1)
        .default(2)
        .describe(
          'min.insync.replicas of topics created when missing: replicas that must have an event before Kafka acknowledges it.',
        ),
      allowUnsafe: z
        .boolean()
        .default(false)
        .describe(
          'Start even on topics that cannot survive the loss of one broker (replication factor below min.insync.replicas + 1, or min.insync.replicas below 2). For the one-broker local stack and tests only: it is logged as a warning.',
        ),
    })
    .prefault({});
}

/** `kafka:` of every service configuration: the brokers and this client's id, plus the service's own settings. */
export function kafkaSettings<E extends z.ZodRawShape = Record<never, never>>(clientId: string, extra?: E) {
  return z
    .object({
      brokers: z
        .array(z.string().min(1))
        .min(1)
        .default(['127.0.0.1:19092'])
        .describe('Kafka bootstrap brokers (host:port).'),
      clientId: z.string().min(1).default(clientId).describe('Kafka client id.'),
      ssl: kafkaSslSettings().optional().describe('TLS to the brokers (present = on).'),
      sasl: kafkaSaslSettings().optional().describe('SASL authentication (present = on; use it with ssl).'),
      compression: z
        .enum(['none', 'gzip', 'zstd'])
        .default('none')
        .refine((c) => c !== 'zstd' || ZSTD_IN_RUNTIME, {
          message: `none or gzip: zstd needs Node >= 22.15 (this is Node ${process.versions.node})`,
        })
        .describe('Compression of produced record batches: none, gzip, or zstd (Node >= 22.15).'),
      topics: kafkaTopicSettings(),
      ...(extra ?? ({} as E)),
    })
    .prefault({} as never);
}

/**
 * `memory:` of a service with a throughput-bound heap. V8 lets the old generation grow to ~4× its live size between
 * full collections; a fixed factor bounds the peak RSS for some CPU. Applied by {@link applyMemorySettings}.
 */
export function memorySettings(defaultPercent: number, why: string) {
  return z
    .object({
      heapGrowingPercent: z
        .number()
        .int()
        .min(0)
        .max(300)
        .default(defaultPercent)
        .describe(
          `V8's old generation may grow to (1 + N/100) × its live size before a full collection; 0 keeps V8's own factor (up to 4×). ${why}`,
        ),
    })
    .prefault({});
}

/** Applies `memory:` (V8 reads the factor at every full collection: at startup, before the heap grew, is enough). */
export function applyMemorySettings(memory: { heapGrowingPercent: number }): void {
  if (memory.heapGrowingPercent > 0) setFlagsFromString(`--heap-growing-percent=${memory.heapGrowingPercent}`);
}

/** `partitions:` of the services that create their topics when missing. */
export function topicPartitions() {
  return z.number().int().positive().default(3).describe('Partitions of topics created when missing.');
}

/**
 * Options of a cross-field check (`refine`/`superRefine`) that must report even when other fields of its block
 * failed, so one start lists every problem — but only once its input has the shape the check reads. zod runs a
 * check with `when: () => true` on whatever it was given: `clusters: 3` reached a `list.map` and crashed with a
 * TypeError instead of a listed problem. Checks given these options still meet partly invalid members, and must
 * read them defensively.
 */
export function checkWhenShaped(shape: 'object' | 'array'): { when: (payload: { value: unknown }) => boolean } {
  return {
    when: ({ value }) =>
      shape === 'array' ? Array.isArray(value) : value !== null && typeof value === 'object' && !Array.isArray(value),
  };
}

/** Where a service runs: against the local stack (`npm start`, tests) or anywhere else. */
export const PROFILES = ['local', 'production'] as const;
/** See {@link PROFILES}. */
export type Profile = (typeof PROFILES)[number];

/**
 * `profile:` of a service configuration (env `VIGIE_PROFILE`). Defaults to `production`: the local stack's
 * credentials are published (each local role's password is its name), so a service only falls back to them when
 * told it runs there; anywhere else every credential must be given and those are refused.
 */
export function profileSetting() {
  return z
    .enum(PROFILES)
    .default('production')
    .describe(
      "Where the service runs: `local` (the local stack; its published credentials are the defaults) or `production` (default: credentials must be given, the local stack's are refused).",
    );
}

/**
 * Why a connection string must not be used outside the local stack, if it must not: its password is its role
 * name, the local stack's published convention (and the first guess of anyone trying passwords).
 */
export function publishedCredentialProblem(connectionString: string): string | undefined {
  const creds = connectionCredentials(connectionString);
  if (creds?.password === undefined || creds.user === undefined) return undefined;
  return creds.password === creds.user
    ? `a password equal to the role name (${creds.user}): the local stack's published credentials`
    : undefined;
}
