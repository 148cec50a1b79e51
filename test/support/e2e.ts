import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Alert } from '@vigie/contract';
import { readCheckpoint } from '@vigie/collector-pglog';
import { waitFor } from '@vigie/runtime';
import {
  LOCAL_KAFKA_TOPICS,
  STACK,
  ROLES,
  currentLogFile,
  queryAs,
  startService,
  testKafka,
  type RunningService,
} from '@vigie/testkit';

const run = promisify(execFile);

/** A stored alert as the detector's API returns it (the contract's alert plus store fields). */
export type ApiAlert = Alert & { status: string };

/** Everything one end-to-end scenario file runs: its own cluster name, topics, roles, collector and detector. */
export interface Pipeline {
  cluster: string;
  topics: { activity: string; egress: string; changes: string; alerts: string; deadletter: string };
  token: string;
  collector: RunningService;
  detector: RunningService;
  groupId: string;
  /** The detector's alert-store schema (database `vigie`). */
  storeSchema: string;
  /** Alerts the detector's API returns for a role. */
  alertsFor(role: string): Promise<ApiAlert[]>;
  /** Alerts the detector's API returns for a query string (`rule=dump&limit=10`). */
  alerts(query: string): Promise<ApiAlert[]>;
  /** Alertmanager's copy of an alert, by Vigie's alert id. */
  alertmanagerAlert(id: string): Promise<{ labels: Record<string, string>; annotations: Record<string, string> }[]>;
  /** Waits until the collector has read past everything logged so far and the detector consumed all of it. */
  drained(): Promise<void>;
  stop(): Promise<void>;
}

/** A fresh suffix for this file's roles, cluster and topics. */
export function suffix(): string {
  return randomBytes(4).toString('hex');
}

/**
 * Business hours covering every minute of every day, whatever the clock: a scenario about access patterns (dumps,
 * reads, egress) cannot get an off-hours alert besides the one under test, on a weekend or at night.
 */
export const ALWAYS_BUSINESS_HOURS = {
  timezone: 'Europe/Paris',
  days: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'],
  start: '00:00',
  end: '24:00',
} as const;

/**
 * No day is a business day: every session is off hours, whatever the clock of the test process or of PostgreSQL
 * (whose timestamps the events carry).
 */
export const NEVER_BUSINESS_HOURS = { timezone: 'Europe/Paris', days: [], start: '08:00', end: '19:00' } as const;

/**
 * Writes a site policy for the scenario (cluster name, bastion 127.0.0.2/32, business hours as given; `privileged`
 * adds role patterns to `roles.privileged`).
 */
export function writePolicy(
  cluster: string,
  businessHours: Record<string, unknown>,
  { privileged = [] }: { privileged?: string[] } = {},
): string {
  const file = join(mkdtempSync(join(tmpdir(), 'vigie-e2e-policy-')), 'policy.yaml');
  const policy = {
    clusters: [{ name: cluster, environment: 'production' }],
    bastion: { networks: ['127.0.0.2/32'] },
    businessHours,
    personalData: { tables: ['public.citizens', 'social.*'] },
    roles: { service: ['app_*'], generic: ['postgres', 'admin'], vigie: ['vigie', 'vigie_collector'], privileged },
  };
  writeFileSync(file, JSON.stringify(policy, null, 2));
  return file;
}

/** Creates a login role (password = name) as the stack's superuser; `privileged` adds pg_read_all_data. */
export async function createRole(name: string, { privileged = false } = {}): Promise<void> {
  await queryAs(
    ROLES.superuser,
    `CREATE ROLE ${name} LOGIN PASSWORD '${name}'${privileged ? ' IN ROLE pg_read_all_data' : ''}`,
  );
  // Test files run in parallel and grant on the same tables: PostgreSQL refuses two concurrent ACL updates of one
  // catalog row ("tuple concurrently updated"). One lock, held to the end of this implicit transaction, serialises
  // the grants and the drops below.
  await queryAs(
    ROLES.superuser,
    `SELECT pg_advisory_xact_lock(${GRANTS_LOCK});
     GRANT USAGE ON SCHEMA social TO ${name};
     GRANT SELECT ON ALL TABLES IN SCHEMA public, social TO ${name}`,
  );
}

/** Advisory lock key of the e2e tests' grants and drops (any constant no other code uses). */
const GRANTS_LOCK = 7_406_211;

/** Drops the roles a scenario created (their grants first). */
export async function dropRoles(names: readonly string[]): Promise<void> {
  for (const name of names) {
    await queryAs(
      ROLES.superuser,
      `SELECT pg_advisory_xact_lock(${GRANTS_LOCK}); DROP OWNED BY ${name}; DROP ROLE IF EXISTS ${name}`,
    ).catch(() => undefined);
  }
}

/** Runs a PostgreSQL client program (pg_dump, psql, pgbench) against the local cluster as `role`. */
export async function pgProgram(
  program: 'pg_dump' | 'psql' | 'pgbench',
  role: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<string> {
  const { stdout } = await run(
    `/usr/lib/postgresql/15/bin/${program}`,
    ['-h', '127.0.0.1', '-p', '55432', '-U', role, ...args],
    {
      env: { ...process.env, PGPASSWORD: role, ...env },
      maxBuffer: 512 * 1024 * 1024,
    },
  );
  return stdout;
}

/** Topic names no other test uses. */
export function uniqueTopics(id: string): Pipeline['topics'] {
  return {
    activity: `e2e.activity.${id}`,
    egress: `e2e.egress.${id}`,
    changes: `e2e.changes.${id}`,
    alerts: `e2e.alerts.${id}`,
    deadletter: `e2e.deadletter.${id}`,
  };
}

/**
 * A detector process on the given topics, with its own store schema and API token. `same` restarts the detector of
 * an earlier call: same consumer group, store schema and token.
 */
export async function startDetector(
  cluster: string,
  policyFile: string,
  topics: Pipeline['topics'],
  engine: Record<string, unknown> = {},
  /** Other settings of the detector (e.g. `alertmanager`), merged over the defaults below. */
  extra: Record<string, unknown> = {},
  same?: { id: string; token: string },
  /** Options of the service process (e.g. `port`: the detector's default one, which the stack's Prometheus scrapes). */
  service: { port?: number } = {},
): Promise<{
  id: string;
  detector: RunningService;
  token: string;
  groupId: string;
  storeSchema: string;
  alertsFor(role: string): Promise<ApiAlert[]>;
  alerts(query: string): Promise<ApiAlert[]>;
}> {
  const id = same?.id ?? suffix();
  const token = same?.token ?? randomBytes(16).toString('hex');
  const groupId = `e2e-detector-${id}`;
  const detector = await startService(
    'detector',
    {
      cluster,
      kafka: { brokers: [...STACK.kafkaBrokers], groupId, topics: LOCAL_KAFKA_TOPICS },
      topics,
      api: { token },
      // The local stack's two store roles: vigie_detector at runtime, vigie (the default) for migrations.
      profile: 'local',
      store: {
        connectionString: 'postgres://vigie_detector:vigie_detector@127.0.0.1:55432/vigie',
        schema: `e2e_${id}`,
      },
      alertmanager: { url: STACK.alertmanagerUrl },
      engine,
      ...extra,
    },
    { policyFile, ...service },
  );
  const alerts = async (query: string): Promise<ApiAlert[]> => {
    const res = await fetch(`http://127.0.0.1:${detector.port}/api/alerts?${query}`, {
      headers: { authorization: `Bearer ${token}` },
    });
    if (!res.ok) throw new Error(`GET /api/alerts?${query}: ${res.status} ${await res.text()}`);
    const body = (await res.json()) as { alerts: { alert: ApiAlert }[] };
    return body.alerts.map((record) => record.alert);
  };
  return {
    id,
    detector,
    token,
    groupId,
    storeSchema: `e2e_${id}`,
    alerts,
    alertsFor: (role) => alerts(`role=${encodeURIComponent(role)}`),
  };
}

/**
 * Starts collector-pglog (from the end of the current log) and the detector on unique topics and store schema;
 * `detector` settings are merged over startDetector's defaults.
 */
export async function startPipeline(
  cluster: string,
  policyFile: string,
  { detector: detectorSettings = {} }: { detector?: Record<string, unknown> } = {},
): Promise<Pipeline> {
  const topics = uniqueTopics(suffix());
  const checkpointDir = mkdtempSync(join(tmpdir(), 'vigie-e2e-checkpoint-'));
  const checkpointFile = join(checkpointDir, 'checkpoint.json');
  const kafka = { brokers: [...STACK.kafkaBrokers], topics: LOCAL_KAFKA_TOPICS };
  const collector = await startService(
    'collector-pglog',
    {
      cluster,
      source: { format: 'jsonlog', pgData: STACK.pgDataDir },
      checkpoint: { file: checkpointFile, startAt: 'end' },
      kafka,
      topics: { activity: topics.activity, deadletter: topics.deadletter },
    },
    { policyFile },
  );
  const { detector, token, groupId, storeSchema, alertsFor, alerts } = await startDetector(
    cluster,
    policyFile,
    topics,
    {},
    detectorSettings,
  );
  const admin = testKafka().admin();
  await admin.connect();
  return {
    cluster,
    topics,
    token,
    collector,
    detector,
    groupId,
    storeSchema,
    alertsFor,
    alerts,
    async alertmanagerAlert(alertId) {
      const filter = encodeURIComponent(`alert_id="${alertId}"`);
      const res = await fetch(`${STACK.alertmanagerUrl}/api/v2/alerts?filter=${filter}`);
      return (await res.json()) as { labels: Record<string, string>; annotations: Record<string, string> }[];
    },
    async drained() {
      const file = currentLogFile('jsonlog');
      const size = statSync(file).size;
      await waitFor(
        async () => {
          const checkpoint = await readCheckpoint(checkpointFile);
          if (!checkpoint) return false;
          const p = checkpoint.position;
          return p.file === file ? p.offset >= size : p.file > file;
        },
        { timeoutMs: 60_000, intervalMs: 200, what: 'the collector to read past the log written so far' },
      );
      await waitFor(
        async () => {
          const [ends, committed] = await Promise.all([
            admin.fetchTopicOffsets(topics.activity),
            admin.fetchOffsets({ groupId, topics: [topics.activity] }),
          ]);
          const done = new Map(committed[0]?.partitions.map((p) => [p.partition, Number(p.offset)]) ?? []);
          return ends.every((e) => Number(e.high) === 0 || (done.get(e.partition) ?? -1) >= Number(e.high));
        },
        { timeoutMs: 60_000, intervalMs: 200, what: 'the detector to consume every event' },
      );
    },
    async stop() {
      await Promise.all([collector.stop(), detector.stop()]);
      await admin.deleteTopics({ topics: Object.values(topics) }).catch(() => undefined);
      await admin.disconnect();
    },
  };
}
