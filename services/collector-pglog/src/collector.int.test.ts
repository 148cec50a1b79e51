import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { decodeDeadLetter, decodeEvent, type StatementEvent, type VigieEvent } from '@vigie/contract';
import { ensureTopics } from '@vigie/kafka';
import { createLogger, validateConfig, waitFor } from '@vigie/runtime';
import { LOCAL_KAFKA_TOPICS, STACK, connectAs, testKafka, uniqueName, type Consumer } from '@vigie/testkit';
import { afterAll, describe, expect, it } from 'vitest';
import { createCollectorPglog, type CollectorPglog } from './app.js';
import { CollectorPglogConfig } from './config.js';

const dirs: string[] = [];
const stops: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const stop of stops.reverse()) await stop().catch(() => undefined);
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** Every message of a topic, decoded, as it arrives. */
async function collect(topic: string): Promise<{ events: VigieEvent[]; raw: string[] }> {
  const consumer: Consumer = testKafka().consumer({ groupId: uniqueName('pglog-test'), allowAutoTopicCreation: false });
  const out = { events: [] as VigieEvent[], raw: [] as string[] };
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ message }) => {
      const text = message.value?.toString('utf8') ?? '';
      out.raw.push(text);
      const d = decodeEvent(text);
      if (d.ok) out.events.push(d.value);
    },
  });
  stops.push(() => consumer.disconnect());
  return out;
}

function config(overrides: Record<string, unknown> = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'vigie-pglog-'));
  dirs.push(dir);
  const topics = { activity: uniqueName('pglog.activity'), deadletter: uniqueName('pglog.dead') };
  return validateConfig(
    CollectorPglogConfig,
    {
      cluster: 'local',
      source: { pgData: STACK.pgDataDir, pollIntervalMs: 50 },
      checkpoint: { file: join(dir, 'checkpoint.json'), intervalMs: 100, startAt: 'end' },
      topics,
      kafka: { topics: LOCAL_KAFKA_TOPICS },
      http: { port: 0 },
      heartbeatIntervalMs: 1000,
      ...overrides,
    },
    'test',
  );
}

/** Starts a collector in this process; its service log is kept to check that nothing personal is in it. */
async function startCollector(cfg: ReturnType<typeof config>): Promise<{ c: CollectorPglog; logs: string[] }> {
  const logs: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, done) {
      logs.push(chunk.toString('utf8'));
      done();
    },
  });
  await ensureTopics(testKafka(), [cfg.topics.activity, cfg.topics.deadletter]);
  const c = createCollectorPglog(cfg, { logger: createLogger('collector-pglog', { level: 'debug', destination }) });
  await c.start();
  stops.push(() => c.stop());
  return { c, logs };
}

const ofApp = (events: VigieEvent[], app: string) => events.filter((e) => e.session?.applicationName === app);

describe('collector-pglog on the real server and broker', () => {
  it('turns SQL on the app database into exactly the expected events, field by field', async () => {
    const cfg = config();
    await startCollector(cfg);
    const sink = await collect(cfg.topics.activity);
    const app = uniqueName('pglog_it');
    const client = await connectAs('dba_alice', { applicationName: app, localAddress: '127.0.0.3' });
    await client.query("SELECT id FROM public.citizens WHERE nir = '185057800608491'");
    await client.query(
      'SELECT c.id FROM public.citizens c JOIN social.payments p ON p.citizen_id = c.id WHERE c.id < $1',
      [3],
    );
    await client.query('SELECT * FROM public.vigie_no_such_table').catch(() => undefined);
    await client.end();
    await waitFor(() => ofApp(sink.events, app).some((x) => x.kind === 'session.end'), {
      timeoutMs: 30_000,
      what: 'the session in Kafka',
    });
    const mine = ofApp(sink.events, app);
    expect(mine.map((e) => e.kind)).toEqual([
      'session.start',
      'statement',
      'statement',
      'session.error',
      'session.end',
    ]);
    const sid = mine[0]?.session?.id ?? '';
    for (const e of mine) {
      expect(e.session).toMatchObject({ id: sid, user: 'dba_alice', database: 'app', clientAddr: '127.0.0.3' });
      expect(e.id).toMatch(new RegExp(`^local:${sid.replace('.', '\\.')}:\\d+$`));
      expect(e.source?.file).toMatch(/postgresql-.*\.json$/);
    }
    const [s1, s2] = mine.filter((e): e is StatementEvent => e.kind === 'statement');
    expect(s1?.audit).toMatchObject({
      class: 'READ',
      command: 'SELECT',
      objects: [{ type: 'TABLE', name: 'public.citizens' }],
      parameterCount: 0,
      rows: 0,
    });
    expect(s1?.sql).toMatchObject({
      kind: 'select',
      reads: ['public.citizens'],
      hasWhere: true,
      redacted: 'SELECT id FROM public.citizens WHERE nir = $1',
    });
    expect(s1?.effectiveRole).toBe('dba_alice');
    expect(s1?.queryId).toMatch(/^-?\d+$/);
    expect(s2?.audit.objects.map((o) => o.name)).toEqual(['public.citizens', 'social.payments']);
    expect(s2?.audit.parameterCount).toBe(1);
    const err = mine[3];
    // The failing statement as its kind and fingerprint, never its text; the message as a template.
    expect(err?.kind === 'session.error' && [err.sqlstate, err.message, err.statementKind, err.statement]).toEqual([
      '42P01',
      'relation $1 does not exist',
      'select',
      undefined,
    ]);
    expect(err?.kind === 'session.error' && err.statementFingerprint).toMatch(/^[0-9a-f]{16}$/);
    const end = mine[4];
    expect(end?.kind === 'session.end' && end.durationMs).toBeGreaterThan(0);
    // Heartbeats flow too.
    await waitFor(() => sink.events.some((e) => e.kind === 'collector.heartbeat'), { what: 'a heartbeat' });
  });

  it('lets no NIR, e-mail or name reach any topic or the service log', async () => {
    const cfg = config({ redaction: { hmacKey: 'a-site-secret-of-16+chars' } });
    const { logs } = await startCollector(cfg);
    const activity = await collect(cfg.topics.activity);
    const dead = await collect(cfg.topics.deadletter);
    const app = uniqueName('pglog_redact');
    const secrets = [
      '295027512345654',
      '1 84 12 75 123 456 78',
      'zoe.vigie-test@exemple.fr',
      'Marguerite Vigietest',
      '0612345678',
    ];
    const client = await connectAs('contractor_bob', { applicationName: app });
    await client.query(
      `SELECT id FROM public.citizens WHERE nir IN ('${secrets[0]}', '${secrets[1]}') OR email = '${secrets[2]}'`,
    );
    await client.query(`SELECT id FROM public.citizens WHERE last_name || ' ' || first_name = $1 OR phone = $2`, [
      secrets[3],
      secrets[4],
    ]);
    await client
      .query(`UPDATE public.citizens SET email = '${secrets[2]}' WHERE nir = '${secrets[0]}'`)
      .catch(() => undefined);
    await client.query(`SELECT '${secrets[3]}'::int`).catch(() => undefined);
    await client.end();
    await waitFor(() => ofApp(activity.events, app).some((e) => e.kind === 'session.end'), {
      timeoutMs: 30_000,
      what: 'the session',
    });
    const mine = ofApp(activity.events, app);
    expect(mine.map((e) => e.kind)).toEqual([
      'session.start',
      'statement',
      'statement',
      'session.error',
      'session.error',
      'session.end',
    ]);
    const bound = mine[2];
    expect(bound?.kind === 'statement' && bound.audit.parameterHashes?.length).toBe(2);
    const everything = [...activity.raw, ...dead.raw, ...logs].join('\n');
    for (const s of secrets) expect(everything, s).not.toContain(s);
    for (const d of dead.raw) expect(decodeDeadLetter(d).ok).toBe(true);
  });
});
