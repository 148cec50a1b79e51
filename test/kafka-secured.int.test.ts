// Vigie through the local stack's SASL_SSL listener (127.0.0.1:19095): TLS with the stack's own CA, one SCRAM user per
// service, ACLs with the standard authorizer (deploy/local/kafka/acls.conf).
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { decodeAlert, encodeEvent, type Alert } from '@vigie/contract';
import { createKafka, createReliableProducer, ensureTopics, type KafkaSettings } from '@vigie/kafka';
import { createLogger } from '@vigie/runtime';
import {
  LOCAL_KAFKA_TOPICS,
  REPO_ROOT,
  STACK,
  kafkaPasswordFile,
  readTopic,
  secureKafka,
  startService,
  testKafka,
  uniqueName,
  type RunningService,
} from '@vigie/testkit';
import { afterAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const logger = createLogger('kafka-secured-test', { level: 'fatal' });
const cleanups: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

const settings = (user: Parameters<typeof secureKafka>[0], extra: Partial<KafkaSettings> = {}): KafkaSettings => ({
  clientId: `test-${user}`,
  ...secureKafka(user),
  ...extra,
});

const heartbeat = (topic: string) => ({
  topic,
  key: 'local/collector/secured-test',
  value: encodeEvent({
    v: 1,
    kind: 'collector.heartbeat',
    id: `local:heartbeat:secured-test:${Date.now()}`,
    cluster: 'local',
    ts: new Date().toISOString(),
    collector: 'collector-pglog',
    instance: 'secured-test',
    lagBytes: 0,
    lagSeconds: 0,
  }),
});

/**
 * Runs `vigie run collector-pglog` with this configuration until it exits by itself (a refused start): its exit
 * code and everything it printed.
 */
async function refusedStart(
  config: Record<string, unknown>,
  env: Record<string, string> = {},
): Promise<{ code: number; output: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'vigie-secured-start-'));
  cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'config.yaml');
  writeFileSync(
    file,
    JSON.stringify({ checkpoint: { file: join(dir, 'cp.json'), startAt: 'end' }, http: { port: 0 }, ...config }),
  );
  const result = await run(
    process.execPath,
    [join(REPO_ROOT, 'services/cli/bin/vigie.js'), 'run', 'collector-pglog', '--config', file],
    {
      env: { ...process.env, ...env },
      timeout: 60_000,
    },
  ).then(
    (r) => ({ code: 0, output: r.stdout + r.stderr }),
    (e: { code?: number; stdout?: string; stderr?: string }) => ({
      code: e.code ?? -1,
      output: (e.stdout ?? '') + (e.stderr ?? ''),
    }),
  );
  return result;
}

/** Time a rejected promise took to reject, and its error. */
async function failure(p: Promise<unknown>): Promise<{ ms: number; error: Error & { code?: string } }> {
  const t0 = Date.now();
  const error = await p.then(
    () => {
      throw new Error('expected a failure');
    },
    (e: unknown) => e as Error & { code?: string },
  );
  return { ms: Date.now() - t0, error };
}

describe('Kafka through SASL_SSL with ACLs', () => {
  it('carries the whole pipeline: collector → detector → alert, each service as its own SCRAM user', async () => {
    const id = uniqueName('sec');
    const topics = {
      activity: `vigie.activity.${id}`,
      egress: `vigie.egress.${id}`,
      changes: `vigie.changes.${id}`,
      alerts: `vigie.alerts.${id}`,
      deadletter: `vigie.deadletter.${id}`,
    };
    // Created by an administrator (the plain listener's anonymous super user): the detector may only read its inputs.
    await ensureTopics(testKafka(), Object.values(topics), { partitions: 2 });
    cleanups.push(async () => {
      const admin = testKafka().admin();
      await admin.connect();
      await admin.deleteTopics({ topics: Object.values(topics) }).catch(() => undefined);
      await admin.disconnect();
    });
    const dir = mkdtempSync(join(tmpdir(), 'vigie-secured-'));
    cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
    const collector: RunningService = await startService('collector-pglog', {
      cluster: 'local',
      source: { pgData: STACK.pgDataDir, pollIntervalMs: 50 },
      checkpoint: { file: join(dir, 'cp.json'), startAt: 'end' },
      kafka: secureKafka('vigie-collector-pglog'),
      topics: { activity: topics.activity, deadletter: topics.deadletter },
    });
    cleanups.push(() => collector.stop());
    const schema = id;
    const detector: RunningService = await startService('detector', {
      cluster: 'local',
      kafka: { ...secureKafka('vigie-detector'), groupId: `vigie-detector-${id}` },
      topics,
      api: { token: randomBytes(16).toString('hex') },
      profile: 'local',
      store: {
        connectionString: 'postgres://vigie_detector:vigie_detector@127.0.0.1:55432/vigie',
        migrationConnectionString: 'postgres://vigie:vigie@127.0.0.1:55432/vigie',
        schema,
      },
      alertmanager: { url: '' },
    });
    cleanups.push(async () => {
      await detector.stop();
      await run(
        'psql',
        ['-h', '127.0.0.1', '-p', '55432', '-U', 'vigie', '-d', 'vigie', '-Xqc', `DROP SCHEMA ${schema} CASCADE`],
        {
          env: { ...process.env, PGPASSWORD: 'vigie' },
        },
      );
    });

    const app = uniqueName('secured_dump');
    await run(
      '/usr/lib/postgresql/15/bin/pg_dump',
      ['-h', '127.0.0.1', '-p', '55432', '-U', 'dba_alice', '-f', '/dev/null', 'app'],
      {
        env: { ...process.env, PGPASSWORD: 'dba_alice', PGAPPNAME: app },
      },
    );
    const dumpOf = (v: Buffer | null): Alert | undefined => {
      const d = decodeAlert(v ?? Buffer.alloc(0));
      return d.ok && d.value.rule === 'dump' && d.value.where.applicationName === app ? d.value : undefined;
    };
    const alerts = await readTopic(topics.alerts, (ms) => ms.some((m) => dumpOf(m.value)), { timeoutMs: 90_000 });
    const alert = alerts.map((m) => dumpOf(m.value)).find((a) => a !== undefined);
    expect(alert).toMatchObject({ rule: 'dump', who: { login: 'dba_alice' } });
    // No service wrote its password anywhere in its log.
    for (const [service, user] of [
      [collector, 'vigie-collector-pglog'],
      [detector, 'vigie-detector'],
    ] as const) {
      expect(service.log()).not.toContain(readFileSync(kafkaPasswordFile(user), 'utf8').trim());
    }
  });

  it('SCRAM-SHA-256 works too, for the producer and kafkajs', async () => {
    const s = settings('vigie-collector-pglog', {
      sasl: {
        mechanism: 'scram-sha-256',
        username: 'vigie-collector-pglog',
        passwordFile: kafkaPasswordFile('vigie-collector-pglog'),
      },
    });
    const topic = uniqueName('vigie.activity.sha256');
    await ensureTopics(createKafka(s, logger), [topic], { partitions: 1 });
    const producer = createReliableProducer(s, { logger });
    expect((await producer.send([heartbeat(topic)])).rejected).toEqual([]);
    await producer.stop();
    const read = await readTopic(topic, (ms) => ms.length >= 1, { timeoutMs: 30_000 });
    expect(read).toHaveLength(1);
  });

  it('a wrong password fails at once with VIGIE_KAFKA_AUTH, and never shows the password', async () => {
    const wrong = 'not-the-password-0123456789';
    const s = settings('vigie-collector-pglog', {
      sasl: { mechanism: 'scram-sha-512', username: 'vigie-collector-pglog', password: wrong },
    });
    const producer = createReliableProducer(s, { logger });
    const produced = await failure(producer.send([heartbeat('vigie.activity.v1')]));
    await producer.stop();
    expect(produced.error).toMatchObject({ code: 'VIGIE_KAFKA_AUTH', retriable: false });
    expect(produced.error.message).toMatch(/SCRAM-SHA-512 authentication of user "vigie-collector-pglog"/);
    expect(produced.ms).toBeLessThan(10_000);
    const admin = await failure(ensureTopics(createKafka(s, logger), ['vigie.activity.v1']));
    expect(admin.error).toMatchObject({ code: 'VIGIE_KAFKA_AUTH' });
    expect(JSON.stringify([produced.error.message, admin.error.message])).not.toContain(wrong);

    // A service given the password through the environment stops at startup (exit 1), says why, never prints it.
    const { sasl: _sasl, ...kafka } = secureKafka('vigie-collector-pglog');
    const started = await refusedStart(
      {
        source: { pgData: STACK.pgDataDir },
        kafka: { ...kafka, sasl: { mechanism: 'scram-sha-512', username: 'vigie-collector-pglog' } },
      },
      { VIGIE_KAFKA__SASL__PASSWORD: wrong },
    );
    expect(started.code).toBe(1);
    expect(started.output).toMatch(/failed to start: VIGIE_KAFKA_AUTH: /);
    expect(started.output).not.toContain(wrong);
  });

  it('a broker certificate the configuration does not trust fails with VIGIE_KAFKA_TLS', async () => {
    // The system's CAs do not know the stack's own CA.
    const untrusted = settings('vigie-collector-pglog', { ssl: {} });
    const producer = createReliableProducer(untrusted, { logger });
    const p = await failure(producer.send([heartbeat('vigie.activity.v1')]));
    await producer.stop();
    expect(p.error).toMatchObject({ code: 'VIGIE_KAFKA_TLS', retriable: false });
    expect(p.error.message).toMatch(/kafka\.ssl\.caFile/);
    const admin = await failure(ensureTopics(createKafka(untrusted, logger), ['vigie.activity.v1']));
    expect(admin.error).toMatchObject({ code: 'VIGIE_KAFKA_TLS' });
    // The right CA, but the certificate does not carry the name the client expects.
    const misnamed = settings('vigie-collector-pglog', {
      ssl: { caFile: STACK.kafkaCaFile, serverName: 'kafka.example.org' },
    });
    const q = createReliableProducer(misnamed, { logger });
    expect((await failure(q.send([heartbeat('vigie.activity.v1')]))).error).toMatchObject({ code: 'VIGIE_KAFKA_TLS' });
    await q.stop();
  });

  it('a plain client on the TLS listener is told so rather than left retrying', async () => {
    const plain = { brokers: [...STACK.kafkaSecureBrokers], clientId: 'plain-on-tls', topics: LOCAL_KAFKA_TOPICS };
    const producer = createReliableProducer(plain, { logger, maxBackoffMs: 200 });
    const p = await failure(producer.send([heartbeat('vigie.activity.v1')]));
    await producer.stop();
    expect(p.error).toMatchObject({ code: 'VIGIE_KAFKA_FRAME_TOO_LARGE', retriable: false });
  });

  it('a collector writing the alerts topic is refused by the ACL, and says which topic and which user', async () => {
    const producer = createReliableProducer(settings('vigie-collector-pglog'), { logger });
    const p = await failure(producer.send([heartbeat('vigie.alerts.v1')]));
    await producer.stop();
    expect(p.error).toMatchObject({ code: 'VIGIE_KAFKA_AUTHORIZATION', retriable: false });
    expect(p.error.message).toMatch(
      /user "vigie-collector-pglog".*topic vigie\.alerts\.v1.*TOPIC_AUTHORIZATION_FAILED/,
    );
    expect(p.ms).toBeLessThan(10_000);

    // The collector itself, pointed at the alerts topic, stops at startup with the same code.
    const started = await refusedStart({
      source: { pgData: STACK.pgDataDir },
      kafka: secureKafka('vigie-collector-pglog'),
      topics: { activity: 'vigie.alerts.v1', deadletter: 'vigie.deadletter.v1' },
    });
    expect(started.code).toBe(1);
    expect(started.output).toMatch(/failed to start: VIGIE_KAFKA_AUTHORIZATION: .*vigie-collector-pglog/);
  });
});
