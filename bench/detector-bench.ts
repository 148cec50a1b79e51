// Detector benchmarks against the local stack (Kafka, the PostgreSQL store, Alertmanager), all rules on.
//
//   npx tsc -b bench && node dist/bench/detector-bench.js <mode> [count]
//
//   engine      decode + rules + timeline in-process, no I/O (events/s on one core); `engine <count> digest` also
//               keeps every effect and prints their digest (two builds that decide the same print the same digest;
//               keeping them costs memory and GC time, so a run that times the engine keeps none)
//   throughput  pre-fill a unique topic with `count` events (default 500000), time the detector's drain (in a process
//               of its own, whose RSS is the detector's)
//   latency     produce at a steady 10,000 events/s for `count` seconds (default 30); event-to-Alertmanager latency
//   sessions    10,000 concurrent open sessions (or `count`): RSS of a detector process holding them
//
// Each run uses its own topics, consumer group and store schema and removes them afterwards.
import { fork } from 'node:child_process';
import { createHash } from 'node:crypto';
import { Registry } from 'prom-client';
import { encodeEvent, sessionKey, type Alert, type VigieEvent } from '@vigie/contract';
import {
  createBatchHandler,
  createDetector,
  createDetectorMetrics,
  createEngine,
  createTimelineRecorder,
  DetectorConfig,
  loadRules,
  type Detector,
} from '@vigie/detector';
import { compilePolicy, loadPolicy } from '@vigie/policy';
import { createSqlAnalyzer } from '@vigie/sql';
import { applyMemorySettings, createLogger, loadConfig, waitFor } from '@vigie/runtime';
import { STACK, testKafka, uniqueName } from '@vigie/testkit';
import pg from 'pg';
import { generateEvents } from '@vigie/testkit';

const STORE_URL = `postgresql://vigie:vigie@${STACK.pg.host}:${STACK.pg.port}/vigie`;
const mode = process.argv[2] ?? 'throughput';
const countArg = process.argv[3] === undefined ? undefined : Number(process.argv[3]);

function benchConfig(id: string, extra: Record<string, string> = {}) {
  return loadConfig(DetectorConfig, {
    env: {
      VIGIE_CLUSTER: id,
      VIGIE_API__TOKEN: 'bench-token-0123456789abcdef',
      VIGIE_HTTP__PORT: '0',
      VIGIE_KAFKA__GROUP_ID: `${id}-group`,
      VIGIE_KAFKA__PARTITIONS: '1',
      // The one-broker local stack: one replica, accepted knowingly.
      VIGIE_KAFKA__TOPICS__REPLICATION_FACTOR: '1',
      VIGIE_KAFKA__TOPICS__MIN_INSYNC_REPLICAS: '1',
      VIGIE_KAFKA__TOPICS__ALLOW_UNSAFE: 'true',
      VIGIE_TOPICS__ACTIVITY: `${id}.activity`,
      VIGIE_TOPICS__EGRESS: `${id}.egress`,
      VIGIE_TOPICS__CHANGES: `${id}.changes`,
      VIGIE_TOPICS__ALERTS: `${id}.alerts`,
      VIGIE_TOPICS__DEADLETTER: `${id}.deadletter`,
      VIGIE_PROFILE: 'local',
      VIGIE_STORE__SCHEMA: id,
      VIGIE_STORE__CONNECTION_STRING: STORE_URL,
      VIGIE_ALERTMANAGER__URL: STACK.alertmanagerUrl,
      VIGIE_LOG__LEVEL: 'warn',
      ...extra,
    },
  });
}

async function cleanup(id: string): Promise<void> {
  const admin = testKafka().admin();
  await admin.connect();
  const mine = (await admin.listTopics()).filter((t) => t.startsWith(`${id}.`));
  if (mine.length > 0) await admin.deleteTopics({ topics: mine }).catch(() => undefined);
  await admin.disconnect();
  const client = new pg.Client({ connectionString: STORE_URL });
  await client.connect();
  await client.query(`DROP SCHEMA IF EXISTS ${id} CASCADE`);
  await client.end();
}

async function consumed(registry: Registry): Promise<number> {
  let sum = 0;
  for (const name of ['vigie_events_consumed_total', 'vigie_records_rejected_total']) {
    const m = await registry.getSingleMetric(name)?.get();
    for (const v of m?.values ?? []) sum += v.value;
  }
  return sum;
}

async function prefill(topic: string, events: Iterable<VigieEvent>): Promise<number> {
  const kafka = testKafka('vigie-bench');
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: 1 }] });
  await admin.disconnect();
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  let n = 0;
  let batch: { key: string; value: Buffer }[] = [];
  for (const e of events) {
    batch.push({ key: sessionKey(e.cluster, e.session?.id ?? 'none'), value: encodeEvent(e) });
    // ~740 B per event: 1000 per request stays under the broker's 1 MB message.max.bytes.
    if (batch.length === 1000) {
      await producer.send({ topic, acks: 1, messages: batch });
      n += batch.length;
      batch = [];
    }
  }
  if (batch.length > 0) await producer.send({ topic, acks: 1, messages: batch });
  n += batch.length;
  await producer.disconnect();
  return n;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

const mb = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MB`;

/** Decode + rules + timeline on one core, sinks in memory: the ceiling of what the Kafka path can reach. */
async function engineOnly(total: number, withDigest: boolean): Promise<void> {
  const analyzer = await createSqlAnalyzer();
  const policy = compilePolicy(loadPolicy());
  const privileged = { isPrivileged: (_c: string, r: string) => r === 'dba_alice' };
  const engine = createEngine({ policy, privileged, rules: loadRules({}) });
  const registry = new Registry();
  let alerts = 0;
  // With `digest`, every effect of the run in order, digested after the clock stops.
  const effects: [string, readonly unknown[]][] = [];
  const record = (what: string, items: readonly unknown[]) => {
    if (withDigest) effects.push([what, items]);
  };
  const handler = createBatchHandler({
    openPartition: async () => ({ engine, restored: [] }),
    policy,
    metrics: createDetectorMetrics(registry, {
      sessionsTracked: () => engine.stats.sessionsTracked,
      activeAlerts: () => [],
      alertmanagerQueue: () => 0,
    }),
    timeline: createTimelineRecorder({ preAlertEvents: 32, maxEventsPerSession: 2000, maxSessions: 50_000 }),
    logger: createLogger('bench', { level: 'warn' }),
    cluster: 'local',
    sources: new Map([['activity', 'activity' as const]]),
    sinks: {
      publish: async (a, d) => {
        alerts += a.length;
        record('alert', a);
        record('dead', d);
      },
      store: {
        upsertAlerts: async () => undefined,
        savePending: async (p) => record('pending', p),
        appendTimeline: async (t) => record('timeline', t),
        touchRoles: async (r) => record('role', r),
      },
    },
  });
  // Fixed event times (a Saturday night in the policy's zone, so the off-hours rule works too): every run reads the
  // same events and, with the same rules, publishes the same alerts.
  const startMs = Date.parse('2026-11-28T02:00:00.000Z');
  const messages = [
    ...generateEvents(analyzer, { cluster: 'local', concurrentSessions: 200, total, stepMs: 1, startMs }),
  ].map((e, i) => ({ offset: String(i), value: encodeEvent(e) }));
  const cpu0 = process.cpuUsage();
  const start = process.hrtime.bigint();
  for (let i = 0; i < messages.length; i += 2000) await handler.handleBatch('activity', 0, messages.slice(i, i + 2000));
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  const revisions = [...(engine.revisionCounts?.().revisions.values() ?? [])].reduce((a, b) => a + b, 0);
  const digest = createHash('sha256');
  for (const [what, items] of effects) for (const item of items) digest.update(`${what} ${JSON.stringify(item)}\n`);
  const digestText = withDigest ? `, effects digest ${digest.digest('hex').slice(0, 16)}` : '';
  console.log(
    `engine: ${total} events in ${seconds.toFixed(2)} s = ${Math.round(total / seconds)} events/s wall, ` +
      `${Math.round(total / cpuSeconds)} events/s per CPU-second (${cpuSeconds.toFixed(2)} CPU-s), ` +
      `${alerts} alert states, ${revisions} revisions, ${engine.stats.sessionsTracked} sessions tracked${digestText}`,
  );
}

/** What a drain measured, in the process that drained. */
interface DrainResult {
  measured: number;
  seconds: number;
  cpuSeconds: number;
  alerts: number;
  startSeconds: number;
  /** Resident set size at the end of the drain, and the highest sampled during it (every 100 ms). */
  rss: number;
  peakRss: number;
  /** RSS of the started detector before its first event (its floor). */
  startRss: number;
  /** Of the RSS at the end: the JS heap (reserved, used) and memory outside it (Buffers). */
  heapTotal: number;
  heapUsed: number;
  external: number;
}

/**
 * The detector's side of `throughput`, in a process of its own: the parent generated and produced the events, and
 * its heap (hundreds of MB of garbage V8 does not hand back) is not the detector's RSS.
 */
async function throughputChild(id: string, n: number): Promise<void> {
  const config = benchConfig(id);
  // As `vigie run detector` does before it starts the detector.
  applyMemorySettings(config.memory);
  const registry = new Registry();
  const detector = createDetector(config, {
    registry,
    logger: createLogger('bench', { level: 'warn' }),
    policy: compilePolicy(loadPolicy()),
  });
  let peakRss = 0;
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 100);
  const startup = Date.now();
  await detector.start();
  const startRss = process.memoryUsage().rss;
  // The clock starts at the first consumed event: joining the group (seconds) is not throughput.
  await waitFor(async () => (await consumed(registry)) > 0, {
    timeoutMs: 60_000,
    intervalMs: 5,
    what: 'a first event',
  });
  const cpu0 = process.cpuUsage();
  const start = Date.now();
  const first = await consumed(registry);
  await waitFor(async () => (await consumed(registry)) >= n, {
    timeoutMs: 600_000,
    intervalMs: 20,
    what: 'the drain',
  });
  const seconds = (Date.now() - start) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const { rss, heapTotal, heapUsed, external } = process.memoryUsage();
  clearInterval(sampler);
  const alerts = (await registry.getSingleMetric('vigie_alerts_total')?.get())?.values ?? [];
  await detector.stop();
  const result: DrainResult = {
    measured: n - first,
    seconds,
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
    alerts: alerts.reduce((sum, v) => sum + v.value, 0),
    startSeconds: (start - startup) / 1000,
    rss,
    peakRss: Math.max(peakRss, rss),
    startRss,
    heapTotal,
    heapUsed,
    external,
  };
  process.send?.(result);
}

async function throughput(total: number): Promise<void> {
  const id = uniqueName('bench');
  const config = benchConfig(id);
  const analyzer = await createSqlAnalyzer();
  try {
    const t0 = Date.now();
    const n = await prefill(
      config.topics.activity,
      // Event times end now (1 ms apart), as if the log had been written over the last `total` ms.
      generateEvents(analyzer, { cluster: id, concurrentSessions: 200, total, stepMs: 1, startMs: Date.now() - total }),
    );
    console.log(`pre-filled ${n} events in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    const r = await new Promise<DrainResult>((resolve, reject) => {
      const child = fork(new URL(import.meta.url).pathname, ['throughput-child', String(n), id]);
      child.on('message', (m) => resolve(m as DrainResult));
      child.on('exit', (code) => (code === 0 ? undefined : reject(new Error(`child exited ${code}`))));
    });
    console.log(`detector start to first event: ${r.startSeconds.toFixed(1)} s`);
    console.log(
      `drained ${r.measured} events in ${r.seconds.toFixed(1)} s: ${Math.round(r.measured / r.seconds)} events/s wall, ` +
        `${Math.round(r.measured / r.cpuSeconds)} events/s per CPU-second (${r.cpuSeconds.toFixed(1)} CPU-s), ` +
        `${r.alerts} alerts; detector process RSS ${mb(r.rss)} at the end (heap ${mb(r.heapUsed)} used of ` +
        `${mb(r.heapTotal)}, ${mb(r.external)} outside), ${mb(r.peakRss)} at most, ${mb(r.startRss)} before the first event`,
    );
  } finally {
    await cleanup(id);
  }
}

async function latency(seconds: number): Promise<void> {
  const id = uniqueName('bench');
  const config = benchConfig(id);
  const analyzer = await createSqlAnalyzer();
  const latencies: number[] = [];
  let detector: Detector | undefined;
  try {
    detector = createDetector(config, {
      logger: createLogger('bench', { level: 'warn' }),
      policy: compilePolicy(loadPolicy()),
      onAlertmanagerDelivered: (alert: Alert, at: number) => latencies.push(at - Date.parse(alert.lastSeen)),
    });
    await detector.start();
    const producer = testKafka('vigie-bench').producer({ allowAutoTopicCreation: false });
    await producer.connect();
    const rate = 10_000;
    const tickMs = 50;
    const perTick = (rate * tickMs) / 1000;
    // Event times are set when each event is produced: latency is measured from the moment it exists.
    const gen = generateEvents(analyzer, { cluster: id, concurrentSessions: 500, total: rate * seconds });
    const start = Date.now();
    let sent = 0;
    for (let tick = 0; sent < rate * seconds; tick += 1) {
      const due = start + tick * tickMs;
      const wait = due - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      const now = new Date().toISOString();
      const messages: { key: string; value: Buffer }[] = [];
      for (let i = 0; i < perTick; i += 1) {
        const next = gen.next();
        if (next.done) break;
        const e = { ...next.value, ts: now } as VigieEvent;
        messages.push({ key: sessionKey(e.cluster, e.session?.id ?? 'none'), value: encodeEvent(e) });
      }
      await producer.send({ topic: config.topics.activity, acks: 1, messages });
      sent += messages.length;
    }
    const produceSeconds = (Date.now() - start) / 1000;
    await producer.disconnect();
    await detector.flushAlertmanager(10_000);
    const sorted = [...latencies].sort((a, b) => a - b);
    console.log(
      `produced ${sent} events in ${produceSeconds.toFixed(1)} s (${Math.round(sent / produceSeconds)}/s); ` +
        `${sorted.length} alert states delivered to Alertmanager; event→Alertmanager latency ms: ` +
        `p50 ${percentile(sorted, 50)}, p99 ${percentile(sorted, 99)}, max ${sorted.at(-1)}`,
    );
  } finally {
    await detector?.stop();
    await cleanup(id);
  }
}

async function sessionsChild(topic: string, total: number, id: string): Promise<void> {
  const registry = new Registry();
  const config = benchConfig(id, { VIGIE_TOPICS__ACTIVITY: topic });
  const detector = createDetector(config, {
    registry,
    logger: createLogger('bench', { level: 'warn' }),
    policy: compilePolicy(loadPolicy()),
  });
  await detector.start();
  await waitFor(async () => (await consumed(registry)) >= total, { timeoutMs: 600_000, what: 'the drain' });
  const tracked = (await registry.getSingleMetric('vigie_sessions_tracked')?.get())?.values[0]?.value ?? 0;
  (globalThis as { gc?: () => void }).gc?.();
  const { rss, heapUsed } = process.memoryUsage();
  await detector.stop();
  process.send?.({ rss, heapUsed, tracked });
}

async function sessions(count: number): Promise<void> {
  const id = uniqueName('bench');
  const topic = `${id}.activity`;
  const analyzer = await createSqlAnalyzer();
  const total = count * 4; // start + 3 statements each, all sessions stay open
  try {
    await prefill(topic, generateEvents(analyzer, { cluster: id, concurrentSessions: count, total, keepOpen: true }));
    const result = await new Promise<{ rss: number; heapUsed: number; tracked: number }>((resolve, reject) => {
      const child = fork(new URL(import.meta.url).pathname, ['sessions-child', String(total), topic, id], {
        execArgv: ['--expose-gc'],
      });
      child.on('message', (m) => resolve(m as { rss: number; heapUsed: number; tracked: number }));
      child.on('exit', (code) => (code === 0 ? undefined : reject(new Error(`child exited ${code}`))));
    });
    console.log(
      `${count} concurrent sessions (${total} events): engine tracks ${result.tracked}; detector process RSS ` +
        `${mb(result.rss)}, heap used ${mb(result.heapUsed)}`,
    );
  } finally {
    await cleanup(id);
  }
}

switch (mode) {
  case 'engine':
    await engineOnly(countArg ?? 200_000, process.argv[4] === 'digest');
    break;
  case 'throughput':
    await throughput(countArg ?? 500_000);
    break;
  case 'latency':
    await latency(countArg ?? 30);
    break;
  case 'sessions':
    await sessions(countArg ?? 10_000);
    break;
  case 'throughput-child':
    await throughputChild(process.argv[4] ?? '', Number(process.argv[3]));
    break;
  case 'sessions-child':
    await sessionsChild(process.argv[4] ?? '', Number(process.argv[3]), process.argv[5] ?? '');
    break;
  default:
    console.error(`unknown mode ${mode}`);
    process.exit(2);
}
process.exit(0);
