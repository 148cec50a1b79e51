import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeEvent, type CollectorHeartbeatEvent } from '@vigie/contract';
import { ensureTopics } from '@vigie/kafka';
import { createLogger, validateConfig, waitFor } from '@vigie/runtime';
import { createSqlAnalyzer } from '@vigie/sql';
import { ROLES, STACK, connectAs, testKafka, uniqueName, LOCAL_KAFKA_TOPICS } from '@vigie/testkit';
import { afterAll, describe, expect, it } from 'vitest';
import { createCollectorPglog } from './app.js';
import { CollectorPglogConfig } from './config.js';

const dir = mkdtempSync(join(tmpdir(), 'vigie-pglog-fatal-'));
const cleanups: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
  rmSync(dir, { recursive: true, force: true });
});

describe('collector-pglog when its read loop fails on something else than the file system', () => {
  it('stops (onFatal, for main.ts to exit non-zero) and never reports itself healthy meanwhile', async () => {
    const marker = uniqueName('vigie_bug');
    const topics = { activity: uniqueName('pglog.fatal'), deadletter: uniqueName('pglog.fatal.dead') };
    const config = validateConfig(
      CollectorPglogConfig,
      {
        cluster: 'local',
        source: { pgData: STACK.pgDataDir, pollIntervalMs: 50 },
        checkpoint: { file: join(dir, 'checkpoint.json'), intervalMs: 100, startAt: 'end' },
        topics,
        http: { port: 0 },
        heartbeatIntervalMs: 200,
        kafka: { topics: LOCAL_KAFKA_TOPICS },
      },
      'test',
    );
    await ensureTopics(testKafka(), [topics.activity, topics.deadletter]);
    // A bug stands in: the analyzer throws on one statement.
    const real = await createSqlAnalyzer({ cacheSize: 100 });
    const analyzer = {
      analyze: (sql: string) => {
        if (sql.includes(marker)) throw new TypeError('a bug in the analysis');
        return real.analyze(sql);
      },
      hashParameter: (v: string) => real.hashParameter(v),
    };
    const fatal: unknown[] = [];
    const collector = createCollectorPglog(config, {
      logger: createLogger('collector-pglog', { level: 'silent' }),
      analyzer,
      onFatal: (error) => fatal.push(error),
    });
    await collector.start();
    cleanups.push(() => collector.stop());

    const client = await connectAs(ROLES.dba);
    try {
      await client.query(`SELECT id FROM public.citizens WHERE last_name = '${marker}'`);
    } finally {
      await client.end();
    }
    await waitFor(() => fatal.length > 0, { timeoutMs: 30_000, what: 'the read loop to give up' });
    expect(fatal[0]).toBeInstanceOf(TypeError);
    expect(collector.sourceHealth()).toMatchObject({ state: 'failing', error: 'VIGIE_PGLOG_READ_LOOP' });
    expect(collector.readiness().reasons.join()).toMatch(/source: a bug in the analysis/);

    // Until main.ts has stopped it, its heartbeats say it is blind (a timer alone would say all is well).
    const consumer = testKafka().consumer({ groupId: uniqueName('pglog-fatal') });
    const beats: CollectorHeartbeatEvent[] = [];
    await consumer.connect();
    cleanups.push(() => consumer.disconnect());
    await consumer.subscribe({ topics: [topics.activity], fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => {
        const d = message.value ? decodeEvent(message.value) : undefined;
        if (d?.ok && d.value.kind === 'collector.heartbeat') beats.push(d.value);
      },
    });
    const after = Date.now();
    await waitFor(() => beats.some((b) => Date.parse(b.ts) > after), { timeoutMs: 15_000, what: 'a later heartbeat' });
    expect(beats.filter((b) => Date.parse(b.ts) > after).every((b) => b.health?.state === 'failing')).toBe(true);
  });
});
