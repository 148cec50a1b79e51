import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Root of the repository (this file is libs/testkit/src or libs/testkit/dist). */
export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** Where `npm run stack -- up` keeps all its state. */
export const STATE_DIR = process.env['VIGIE_STACK_DIR'] ?? join(REPO_ROOT, '.stack');

/** Addresses of the local stack (see deploy/local/stack.sh); loopback only. */
export const STACK = {
  pg: { host: '127.0.0.1', port: 55432 },
  pgDataDir: join(STATE_DIR, 'postgresql', 'data'),
  pgLogDir: join(STATE_DIR, 'postgresql', 'data', 'log'),
  kafkaBrokers: ['127.0.0.1:19092'],
  /** The SASL_SSL listener: TLS with the stack's CA, one SCRAM user per service, ACLs (deploy/local/kafka/acls.conf). */
  kafkaSecureBrokers: ['127.0.0.1:19095'],
  kafkaCaFile: join(STATE_DIR, 'kafka', 'tls', 'ca.pem'),
  prometheusUrl: 'http://127.0.0.1:19090',
  alertmanagerUrl: 'http://127.0.0.1:19093',
} as const;

/**
 * `kafka.topics` for the one-broker local stack and private test brokers: one replica, which cannot survive the
 * loss of the broker — accepted knowingly (services refuse it by default).
 */
export const LOCAL_KAFKA_TOPICS = { replicationFactor: 1, minInsyncReplicas: 1, allowUnsafe: true } as const;

/** The SASL_SSL users of the local stack (deploy/local/kafka/acls.conf says what each may do). */
export type KafkaUser =
  'vigie-collector-pglog' | 'vigie-collector-replication' | 'vigie-collector-egress' | 'vigie-detector' | 'vigie-start';

/** The file stack.sh keeps a SASL_SSL user's password in (0600). */
export const kafkaPasswordFile = (user: KafkaUser): string => join(STATE_DIR, 'kafka', 'secrets', `${user}.password`);

/** `kafka:` settings that reach the local stack's SASL_SSL listener as `user` (SCRAM-SHA-512, password from its file). */
export function secureKafka(user: KafkaUser) {
  return {
    brokers: [...STACK.kafkaSecureBrokers],
    ssl: { caFile: STACK.kafkaCaFile },
    sasl: { mechanism: 'scram-sha-512' as const, username: user, passwordFile: kafkaPasswordFile(user) },
    topics: LOCAL_KAFKA_TOPICS,
  };
}

/** Roles of the local stack; their password is their name (local stack only). */
export const ROLES = {
  dba: 'dba_alice',
  contractor: 'contractor_bob',
  service: 'app_backend',
  superuser: 'admin',
  collector: 'vigie_collector',
  store: 'vigie',
} as const;

/** Brings the stack up (idempotent; seconds when it already runs). */
export function stackUp(): void {
  execFileSync('bash', [join(REPO_ROOT, 'deploy/local/stack.sh'), 'up'], { stdio: 'inherit' });
}

/** The log file PostgreSQL writes now, per format, from `$PGDATA/current_logfiles`. */
export function currentLogFile(format: 'jsonlog' | 'csvlog' = 'jsonlog'): string {
  const text = readFileSync(join(STACK.pgDataDir, 'current_logfiles'), 'utf8');
  const line = text.split('\n').find((l) => l.startsWith(`${format} `));
  if (!line) throw new Error(`no ${format} in current_logfiles`);
  const rel = line.slice(format.length + 1).trim();
  const file = rel.startsWith('/') ? rel : join(STACK.pgDataDir, rel);
  if (!existsSync(file)) throw new Error(`current ${format} file ${file} does not exist`);
  return file;
}
