// Vigie on a replicated Kafka: three KRaft nodes, topics with replication factor 3 and min.insync.replicas 2, a node
// killed with SIGKILL under load and brought back. Small volumes: what is under test is the failover, not the rate.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { promisify } from 'node:util';
import pg from 'pg';
import { decodeAlert, decodeEvent, type Alert, type VigieEvent } from '@vigie/contract';
import { createDetector, DetectorConfig, type Detector } from '@vigie/detector';
import { ensureTopics, survivesBrokerLoss } from '@vigie/kafka';
import { compilePolicy, loadPolicy } from '@vigie/policy';
import { createLogger, waitFor } from '@vigie/runtime';
import {
  STACK,
  connectAs,
  startPrivateKafkaCluster,
  startService,
  testKafka,
  uniqueName,
  type Consumer,
  type Kafka,
  type PrivateKafkaCluster,
  type RunningService,
} from '@vigie/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const STORE_URL = `postgresql://vigie:vigie@${STACK.pg.host}:${STACK.pg.port}/vigie`;
const RUNTIME_URL = `postgresql://vigie_detector:vigie_detector@${STACK.pg.host}:${STACK.pg.port}/vigie`;

let cluster: PrivateKafkaCluster;
let kafka: Kafka;
const cleanups: (() => Promise<unknown>)[] = [];

beforeAll(async () => {
  cluster = await startPrivateKafkaCluster({ nodes: 3 });
  kafka = testKafka('vigie-rf3-test', cluster.brokers);
}, 180_000);

afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
  await cluster?.destroy();
});

/** The node leading `partition` of `topic` now (after a failover, once the controller moved it). */
async function leaderOf(topic: string, partition: number): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const { topics } = await admin.fetchTopicMetadata({ topics: [topic] });
    return topics[0]!.partitions.find((p) => p.partitionId === partition)!.leader;
  } finally {
    await admin.disconnect();
  }
}

/** Leader and in-sync replicas of each partition of `topic`, as one line (what a stall message needs). */
async function partitionStates(topic: string): Promise<string> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const { topics } = await admin.fetchTopicMetadata({ topics: [topic] });
    return topics[0]!.partitions.map((p) => `p${p.partitionId} leader ${p.leader} isr [${p.isr.join(',')}]`).join('; ');
  } finally {
    await admin.disconnect();
  }
}

/** The smallest in-sync replica set over `topic`'s partitions (3: every follower has caught up with its leader). */
async function smallestIsr(topic: string): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const { topics } = await admin.fetchTopicMetadata({ topics: [topic] });
    return Math.min(...topics[0]!.partitions.map((p) => p.isr.length));
  } finally {
    await admin.disconnect();
  }
}

/** Reads `topic` from the beginning with a fresh group, decoding each message, as it arrives. */
async function follow<T>(
  topic: string,
  decode: (value: Buffer) => T | undefined,
  partitions: Map<T, number> = new Map(),
): Promise<T[]> {
  const seen: T[] = [];
  const consumer: Consumer = kafka.consumer({ groupId: uniqueName('rf3-reader'), allowAutoTopicCreation: false });
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  await consumer.run({
    eachBatch: async ({ batch }) => {
      for (const m of batch.messages) {
        const v = m.value ? decode(m.value) : undefined;
        if (v === undefined) continue;
        seen.push(v);
        partitions.set(v, batch.partition);
      }
    },
  });
  cleanups.push(() => consumer.disconnect());
  return seen;
}

const event = (value: Buffer): VigieEvent | undefined => {
  const d = decodeEvent(value);
  return d.ok ? d.value : undefined;
};

/** `perSession` one-row statements on each of `sessions` sessions of `app`, at a steady pace (collector load). */
async function load(app: string, sessions: number, perSession: number): Promise<void> {
  await Promise.all(
    Array.from({ length: sessions }, async () => {
      const client = await connectAs('app_backend', { applicationName: app });
      try {
        for (let i = 0; i < perSession; i += 1) {
          await client.query('SELECT id FROM public.citizens WHERE id = $1', [i + 1]);
          if (i % 20 === 19) await new Promise((r) => setTimeout(r, 20));
        }
      } finally {
        await client.end();
      }
    }),
  );
}

describe('Vigie on three brokers (replication factor 3, min.insync.replicas 2)', () => {
  it('services create their topics replicated, and refuse topics that cannot survive a broker loss', async () => {
    const safe = uniqueName('vigie.activity.rf3safe');
    const replication = await ensureTopics(kafka, [safe], {
      durability: { replicationFactor: 3, minInsyncReplicas: 2, allowUnsafe: false },
    });
    expect(replication).toEqual([{ topic: safe, replicationFactor: 3, minInsyncReplicas: 2 }]);
    expect(survivesBrokerLoss(replication[0]!)).toBe(true);

    const fragile = uniqueName('vigie.activity.rf1');
    await ensureTopics(kafka, [fragile], { partitions: 1 }); // one replica, as a careless admin would
    await expect(
      ensureTopics(kafka, [fragile], {
        durability: { replicationFactor: 3, minInsyncReplicas: 2, allowUnsafe: false },
      }),
    ).rejects.toMatchObject({
      code: 'VIGIE_KAFKA_TOPICS_UNSAFE',
      message: expect.stringContaining(`${fragile} (replication factor 1, min.insync.replicas 2)`),
    });
    // Told to, it starts, and says so.
    const warnings: string[] = [];
    const destination = new Writable({
      write(chunk: Buffer, _encoding, done) {
        warnings.push(chunk.toString('utf8'));
        done();
      },
    });
    const logger = createLogger('rf3-test', { level: 'warn', destination });
    await ensureTopics(kafka, [fragile], {
      durability: { replicationFactor: 3, minInsyncReplicas: 2, allowUnsafe: true },
      logger,
    });
    expect(warnings.join()).toMatch(/cannot survive the loss of one broker/);
  });

  it('collector-pglog under load: the leader killed, the collector crashed, both back — every event, in order per session', async () => {
    const topics = { activity: uniqueName('vigie.activity.rf3'), deadletter: uniqueName('vigie.deadletter.rf3') };
    const dir = mkdtempSync(join(tmpdir(), 'vigie-rf3-'));
    cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
    // Default kafka.topics: the collector creates its topics with 3 replicas and min.insync.replicas 2.
    const config = {
      cluster: 'local',
      source: { pgData: STACK.pgDataDir, pollIntervalMs: 50 },
      checkpoint: { file: join(dir, 'cp.json'), startAt: 'end', intervalMs: 100 },
      kafka: { brokers: cluster.brokers, requestTimeoutMs: 5000 },
      topics,
      heartbeatIntervalMs: 3_600_000,
      log: { level: 'warn' },
    };
    let collector: RunningService = await startService('collector-pglog', config);
    cleanups.push(() => collector.kill());
    const app = uniqueName('rf3_load');
    const partitionOf = new Map<VigieEvent, number>();
    const events = await follow(topics.activity, event, partitionOf);
    const mine = () => events.filter((e) => e.session?.applicationName === app);
    const statements = () => new Set(mine().flatMap((e) => (e.kind === 'statement' ? [e.id] : []))).size;

    // Every follower in sync before the load: on a loaded machine a follower starved of CPU drops out of the ISR, and
    // a partition whose only in-sync replica is the killed leader stays offline until it returns (no unclean
    // election) — Kafka's rule, not the collector's. Waited for here, not between the load and the kill: the load
    // must still be running when the leader dies.
    await waitFor(async () => (await smallestIsr(topics.activity)) === 3, {
      timeoutMs: 60_000,
      intervalMs: 250,
      what: 'every replica of the activity topic in sync',
    });
    const sessions = 8;
    const perSession = 150;
    const loading = load(app, sessions, perSession);
    await waitFor(() => statements() >= 200, { timeoutMs: 60_000, intervalMs: 100, what: '200 statements' });
    // The leader of a partition this load writes to dies mid-stream; the other two hold every acknowledged event.
    const victim = await leaderOf(topics.activity, partitionOf.get(mine()[0]!)!);
    await cluster.node(victim).kill();
    const before = statements();
    // 200 more, or what is left of the load when it was nearly done at the kill (a fast run on an idle machine).
    await waitFor(() => statements() >= Math.min(before + 200, sessions * perSession), {
      timeoutMs: 90_000,
      intervalMs: 100,
      what: 'progress with one broker down',
    }).catch(async (error: Error) => {
      // Whether the collector still answers (its event loop runs) and what its readiness says it waits for.
      const ready = await fetch(`http://127.0.0.1:${collector.port}/readyz`, {
        signal: AbortSignal.timeout(3000),
      }).then(
        (r) => r.text(),
        (e: Error) => `no answer (${e.message})`,
      );
      throw new Error(
        `${error.message}: ${statements() - before} statements since broker ${victim} died; ` +
          `${await partitionStates(topics.activity)}\n--- collector /readyz ---\n${ready}\n` +
          `--- collector log (tail) ---\n` +
          collector.log().split('\n').slice(-30).join('\n'),
      );
    });
    // Then the collector crashes: it resumes from its checkpoint, which must not have passed an unacknowledged
    // event — if it had, that event would be missing below.
    await collector.kill();
    // The broker comes back while the collector restarts: on a loaded machine the followers of a partition may have
    // left its ISR, and then only the dead leader can lead it again (no unclean election); the collector waits for
    // that election at start (ensureTopics retries it) rather than exiting.
    const restarting = startService('collector-pglog', config, { readyTimeoutMs: 90_000 });
    await cluster.node(victim).start();
    collector = await restarting;
    await loading;

    const ends = () => new Set(mine().flatMap((e) => (e.kind === 'session.end' ? [e.session!.id] : []))).size;
    await waitFor(() => statements() === sessions * perSession && ends() === sessions, {
      timeoutMs: 120_000,
      intervalMs: 250,
      what: `${sessions * perSession} statements and ${sessions} session ends`,
    }).catch((error: Error) => {
      // Say how far it got and what the collector logged: "timed out" alone cannot tell a lost event from a stall.
      throw new Error(
        `${error.message}: ${statements()} statements, ${ends()} session ends, ${mine().length} events read\n` +
          `--- collector log (tail) ---\n${collector.log().split('\n').slice(-40).join('\n')}`,
      );
    });
    // In order per session (one key, one partition): the first time each line is seen, lines only go up. A batch
    // re-sent after the crash comes again later, as whole duplicates of lines already seen.
    const bySession = new Map<string, number[]>();
    for (const e of mine()) {
      const line = Number(e.id.split(':').at(-1));
      const list = bySession.get(e.session!.id) ?? [];
      if (!list.includes(line)) list.push(line);
      bySession.set(e.session!.id, list);
    }
    expect(bySession.size).toBe(sessions);
    for (const [sid, lines] of bySession) expect(lines, sid).toEqual([...lines].sort((a, b) => a - b));
    expect(cluster.node(victim).running).toBe(true);
  }, 400_000); // its waits can take 60 + 90 + 90 + 120 s on a loaded machine: let the one that fails say which

  it("the detector's consumer group through a broker kill: every dump alerted, none doubled", async () => {
    for (const n of cluster.nodes) if (!n.running) await n.start(); // whatever the test before left
    const id = uniqueName('rf3det');
    const topics = {
      activity: `vigie.activity.${id}`,
      egress: `vigie.egress.${id}`,
      changes: `vigie.changes.${id}`,
      alerts: `vigie.alerts.${id}`,
      deadletter: `vigie.deadletter.${id}`,
    };
    const dir = mkdtempSync(join(tmpdir(), 'vigie-rf3det-'));
    cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
    const collector = await startService('collector-pglog', {
      cluster: 'local',
      source: { pgData: STACK.pgDataDir, pollIntervalMs: 50 },
      checkpoint: { file: join(dir, 'cp.json'), startAt: 'end' },
      kafka: { brokers: cluster.brokers },
      topics: { activity: topics.activity, deadletter: topics.deadletter },
      log: { level: 'warn' },
    });
    cleanups.push(() => collector.stop());
    const groupId = `${id}-group`;
    const detector: Detector = createDetector(
      DetectorConfig.parse({
        cluster: 'local',
        profile: 'local',
        api: { token: randomBytes(16).toString('hex') },
        http: { port: 0 },
        kafka: { brokers: cluster.brokers, groupId, partitions: 3 },
        topics,
        store: { schema: id, connectionString: RUNTIME_URL, migrationConnectionString: STORE_URL },
        alertmanager: { url: '' },
        engine: { tickIntervalMs: 1000 },
        log: { level: 'warn' },
      }),
      // kafkajs logs every refused connection to the dead broker: the assertions below say what matters.
      { logger: createLogger('detector-rf3', { level: 'fatal' }), policy: compilePolicy(loadPolicy()) },
    );
    cleanups.push(async () => {
      await detector.stop();
      const client = new pg.Client({ connectionString: STORE_URL });
      await client.connect();
      await client.query(`DROP SCHEMA IF EXISTS ${id} CASCADE`);
      await client.end();
    });
    await detector.start();
    const alerts = await follow(topics.alerts, (v) => {
      const d = decodeAlert(v);
      return d.ok ? d.value : undefined;
    });
    const app = uniqueName('rf3dump');
    const dumps = () => alerts.filter((a: Alert) => a.rule === 'dump' && a.where.applicationName === app);
    const dump = () =>
      run(
        '/usr/lib/postgresql/15/bin/pg_dump',
        ['-h', '127.0.0.1', '-p', '55432', '-U', 'dba_alice', '-f', '/dev/null', 'app'],
        {
          env: { ...process.env, PGPASSWORD: 'dba_alice', PGAPPNAME: app },
        },
      );

    await dump();
    await dump();
    await waitFor(() => new Set(dumps().map((a) => a.id)).size === 2, {
      timeoutMs: 90_000,
      intervalMs: 250,
      what: 'two dump alerts',
    });
    // Kill the group's coordinator: the leader of the __consumer_offsets partition the group id hashes to (Java's
    // String.hashCode, as the broker computes it), where the detector commits after every batch.
    let hash = 0;
    for (const ch of groupId) hash = (Math.imul(hash, 31) + ch.charCodeAt(0)) | 0;
    const coordinator = await leaderOf('__consumer_offsets', Math.abs(hash) % 50);
    await cluster.node(coordinator).kill();
    await dump();
    await dump();
    await waitFor(() => new Set(dumps().map((a) => a.id)).size === 4, {
      timeoutMs: 120_000,
      intervalMs: 250,
      what: 'four dump alerts with one broker down',
    });
    await cluster.node(coordinator).start();
    await dump();
    await waitFor(() => new Set(dumps().map((a) => a.id)).size === 5, {
      timeoutMs: 90_000,
      intervalMs: 250,
      what: 'five dump alerts',
    });
    // One alert per dump session: a replayed batch updates an alert (same id), never raises a second.
    const ids = new Set(dumps().map((a) => a.id));
    const sessionsAlerted = new Set(dumps().map((a) => a.sessionId));
    expect([ids.size, sessionsAlerted.size]).toEqual([5, 5]);
    const client = new pg.Client({ connectionString: STORE_URL });
    await client.connect();
    try {
      const { rows } = await client.query<{ n: string }>(
        `SELECT count(*) AS n FROM ${id}.alerts WHERE rule = 'dump' AND body->'where'->>'applicationName' = $1`,
        [app],
      );
      expect(Number(rows[0]?.n)).toBe(5);
    } finally {
      await client.end();
    }
  });
});
