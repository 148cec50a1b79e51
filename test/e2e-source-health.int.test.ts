import { execFile } from 'node:child_process';
import { chmodSync, chownSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { decodeEvent, type CollectorHeartbeatEvent, type VigieEvent } from '@vigie/contract';
import { waitFor } from '@vigie/runtime';
import {
  postgresIds,
  startPrivatePostgres,
  startService,
  testKafka,
  type PrivatePostgres,
  type RunningService,
  LOCAL_KAFKA_TOPICS,
  STACK,
} from '@vigie/testkit';
import type { Consumer } from 'kafkajs';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDetector, suffix, uniqueTopics, writePolicy, type ApiAlert } from './support/e2e.js';

const run = promisify(execFile);

// Issue 11 item 4, the real case: a superuser sets log_file_mode = 0600 and rotates; the next log file cannot be
// opened by a collector that reads the log as a member of the postgres group (not as root, who reads anything).
// On a private server: the shared stack's settings are never touched.
const id = suffix();
const cluster = `srchealth-${id}`;
const topics = uniqueTopics(id);
let server: PrivatePostgres;
let collector: RunningService;
let detector: Awaited<ReturnType<typeof startDetector>> | undefined;
let consumer: Consumer;
const events: VigieEvent[] = [];

async function sql(text: string): Promise<pg.QueryResult> {
  const client = new pg.Client({ connectionString: server.connectionString });
  await client.connect();
  try {
    return await client.query(text);
  } finally {
    await client.end();
  }
}

/** A session the server logs (`connection authorized: … application_name=<name>`), then closes. */
async function sessionNamed(applicationName: string): Promise<void> {
  const client = new pg.Client({ connectionString: server.connectionString, application_name: applicationName });
  await client.connect();
  await client.end();
}

const heartbeats = () => events.filter((e): e is CollectorHeartbeatEvent => e.kind === 'collector.heartbeat');
const sessionStart = (app: string) =>
  events.find((e) => e.kind === 'session.start' && e.session?.applicationName === app);

async function metric(name: string): Promise<number | undefined> {
  const text = await (await fetch(`http://127.0.0.1:${collector.port}/metrics`)).text();
  // One series per metric here (the registry adds constant labels): `name{…} value`.
  const line = text.split('\n').find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
  return line === undefined ? undefined : Number(line.split(' ').at(-1));
}

beforeAll(async () => {
  server = await startPrivatePostgres({
    groupAccess: true,
    settings: {
      logging_collector: 'on',
      log_destination: 'jsonlog',
      log_directory: 'log',
      log_filename: 'postgresql-%Y%m%d_%H%M%S.log',
      log_file_mode: '0640',
      log_connections: 'on',
      log_disconnections: 'on',
      log_rotation_age: 0,
      log_rotation_size: 0,
    },
  });
  // The collector's own directory (checkpoint): writable by the unprivileged user it runs as.
  const [, postgresGid] = await postgresIds();
  const nobody = Number((await run('id', ['-u', 'nobody'])).stdout.trim());
  const stateDir = mkdtempSync(join(tmpdir(), 'vigie-srchealth-'));
  chownSync(stateDir, nobody, postgresGid);
  chmodSync(stateDir, 0o750);
  collector = await startService(
    'collector-pglog',
    {
      cluster,
      instance: `srchealth-${id}`,
      source: { format: 'jsonlog', pgData: server.dataDir, retryBaseMs: 100, retryMaxMs: 1000 },
      checkpoint: { file: join(stateDir, 'checkpoint.json'), startAt: 'end' },
      kafka: { brokers: [...STACK.kafkaBrokers], topics: LOCAL_KAFKA_TOPICS },
      topics: { activity: topics.activity, deadletter: topics.deadletter },
      heartbeatIntervalMs: 300,
    },
    { runAs: { uid: nobody, gid: postgresGid } },
  );
  consumer = testKafka().consumer({ groupId: `srchealth-reader-${id}` });
  await consumer.connect();
  await consumer.subscribe({ topics: [topics.activity], fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ message }) => {
      const decoded = message.value === null ? undefined : decodeEvent(message.value);
      if (decoded?.ok) events.push(decoded.value);
    },
  });
});

afterAll(async () => {
  await consumer?.disconnect();
  await detector?.detector.stop();
  await collector?.stop();
  await server?.stop();
  const admin = testKafka().admin();
  await admin.connect();
  await admin.deleteTopics({ topics: Object.values(topics) }).catch(() => undefined);
  await admin.disconnect();
});

describe('heartbeats cannot be forged through the server log', () => {
  it('turns a RAISE LOG that imitates a heartbeat into nothing that announces a session', async () => {
    const forged = JSON.stringify({
      v: 1,
      id: 'x',
      kind: 'collector.heartbeat',
      cluster,
      ts: new Date().toISOString(),
      collector: 'collector-replication',
      instance: 'forged',
      accounts: ['intruder'],
      identities: [],
    });
    const marker = `forged_${id}`;
    const client = new pg.Client({ connectionString: server.connectionString, application_name: marker });
    await client.connect();
    try {
      await client.query(`DO $$BEGIN RAISE LOG '%', '${forged.replace(/'/g, "''")}'; END$$`);
    } finally {
      await client.end();
    }
    // The session's own lines arrive (its end comes after the RAISE): the log was read past the forged record.
    // Heartbeats travel on their own partition: wait for some too (every 300 ms), or a slow fetch reads none yet.
    await waitFor(
      () =>
        events.some((e) => e.kind === 'session.end' && e.session?.applicationName === marker) &&
        heartbeats().length > 0,
      { timeoutMs: 30_000, what: 'the forging session read, and heartbeats' },
    );
    const beats = heartbeats();
    expect(beats.length).toBeGreaterThan(0);
    expect(beats.every((h) => h.instance === `srchealth-${id}` && h.session === undefined)).toBe(true);
    expect(beats.some((h) => (h.accounts ?? []).includes('intruder'))).toBe(false);
  });
});

describe('collector-pglog when the next log file cannot be opened', () => {
  it('reports the source failing in its heartbeats, keeps retrying, and reads the file once it can', async () => {
    // The detector watches this collector with the collector-silent rule (unhealthy after 2 s, for the test).
    const rulesFile = join(mkdtempSync(join(tmpdir(), 'vigie-srchealth-rules-')), 'site.yaml');
    writeFileSync(
      rulesFile,
      JSON.stringify({ overrides: [{ id: 'collector-silent', params: { unhealthyAfterSeconds: 2 } }] }),
    );
    detector = await startDetector(cluster, writePolicy(cluster, { days: [] }), topics, {
      rulesFile,
      tickIntervalMs: 500,
    });

    const before = `before_${id}`;
    await sessionNamed(before);
    await waitFor(() => sessionStart(before), { timeoutMs: 30_000, what: 'a session logged before the change' });
    await waitFor(() => heartbeats().at(-1)?.health?.state === 'ok', { timeoutMs: 10_000, what: 'a heartbeat' });

    await sql(`ALTER SYSTEM SET log_file_mode = '0600'`);
    await sql('SELECT pg_reload_conf()');
    const current = () => readFileSync(join(server.dataDir, 'current_logfiles'), 'utf8').trim().split(' ')[1];
    const old = current();
    // The logger process reads the new mode on its reload; rotate until the file it opens carries it.
    await waitFor(
      async () => {
        await sql('SELECT pg_rotate_logfile()');
        const file = current();
        return file !== old && file !== undefined && (statSync(join(server.dataDir, file)).mode & 0o777) === 0o600;
      },
      { timeoutMs: 20_000, intervalMs: 500, what: 'a log file created with mode 0600' },
    );
    const unreadable = join(server.dataDir, current() as string);
    const during = `during_${id}`;
    await sessionNamed(during);

    // Heartbeats go on, and say the source is failing and why (a fixed code, no path or text).
    const failing = await waitFor(() => heartbeats().find((h) => h.health?.state === 'failing'), {
      timeoutMs: 30_000,
      what: 'a heartbeat reporting the source failing',
    });
    expect(failing.health?.error).toBe('VIGIE_PGLOG_SOURCE_READ EACCES');
    const firstFailing = heartbeats().indexOf(failing);
    await waitFor(() => heartbeats().length > firstFailing + 3, { timeoutMs: 10_000, what: 'heartbeats going on' });
    expect(
      heartbeats()
        .slice(firstFailing)
        .every((h) => h.health?.state === 'failing'),
    ).toBe(true);
    expect(await metric('vigie_collector_source_up')).toBe(0);
    // It keeps trying (backoff capped at 1 s here), it has not given up.
    const failures = (await metric('vigie_pglog_source_failures_total')) ?? 0;
    await waitFor(async () => ((await metric('vigie_pglog_source_failures_total')) ?? 0) > failures + 1, {
      timeoutMs: 10_000,
      what: 'further attempts',
    });
    const ready = await fetch(`http://127.0.0.1:${collector.port}/readyz`);
    expect(ready.status).toBe(503);
    expect(await ready.text()).toContain('VIGIE_PGLOG_SOURCE_READ EACCES');
    expect(sessionStart(during)).toBeUndefined();

    // The detector turns a source failing for longer than the threshold into a critical alert.
    const alertId = `collector-silent:${cluster}:collector-pglog/srchealth-${id}`;
    const fired = await waitFor(
      async () => (await detector?.alerts('rule=collector-silent'))?.find((a: ApiAlert) => a.id === alertId),
      { timeoutMs: 30_000, intervalMs: 500, what: 'the collector-silent alert' },
    );
    expect(fired.severity).toBe('critical');
    expect(fired.status).toBe('firing');
    expect(fired.summary).toContain('VIGIE_PGLOG_SOURCE_READ EACCES');

    // The DBA fixes the mode; the collector reads the file it could not open, nothing of it lost.
    await sql('ALTER SYSTEM RESET log_file_mode');
    await sql('SELECT pg_reload_conf()');
    await run('chmod', ['0640', unreadable]);
    await waitFor(() => sessionStart(during), { timeoutMs: 30_000, what: 'the session logged in the unreadable file' });
    await waitFor(() => heartbeats().at(-1)?.health?.state === 'ok', {
      timeoutMs: 10_000,
      what: 'a healthy heartbeat',
    });
    expect(await metric('vigie_collector_source_up')).toBe(1);
    const resolved = await waitFor(
      async () =>
        (await detector?.alerts('rule=collector-silent'))?.find(
          (a: ApiAlert) => a.id === alertId && a.status === 'resolved',
        ),
      { timeoutMs: 30_000, intervalMs: 500, what: 'the collector-silent alert resolved' },
    );
    expect(resolved.summary).toContain('reading again');
  });
});
