import { decodeAlert, encodeEvent, sessionKey, type Alert, type VigieEvent } from '@vigie/contract';
import { waitFor } from '@vigie/runtime';
import { readTopic, testKafka } from '@vigie/testkit';
import type { Producer } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NEVER_BUSINESS_HOURS, startDetector, suffix, uniqueTopics, writePolicy } from './support/e2e.js';

// One incident, few updates: a privileged session that runs a statement a second for ten minutes (event time,
// spread synthetically over the last quarter of an hour) through the real detector process, Kafka and store. The
// detector is killed (SIGKILL) halfway, right after a batch whose change it held back: the restarted one must
// continue from the store's pending state, and the resolution must carry every statement.
const id = suffix();
const cluster = `e2e-rev-${id}`;
const role = `e2e_rev_${id}`;
const topics = uniqueTopics(id);
const sid = `6b290a20.${id.slice(0, 4)}`;
const alertId = `off-hours-privileged-session:${cluster}:${sid}`;
const T0 = Date.now() - 15 * 60_000;
const session = { id: sid, pid: 4242, user: role, database: 'app', clientAddr: '127.0.0.3', applicationName: 'psql' };
let policy: string;
let producer: Producer;
let running: Awaited<ReturnType<typeof startDetector>>[] = [];

function statement(n: number): VigieEvent {
  return {
    v: 1,
    id: `${cluster}:${sid}:${n}`,
    kind: 'statement',
    cluster,
    ts: new Date(T0 + n * 1000).toISOString(),
    session,
    audit: {
      auditTypes: ['SESSION'],
      statementId: n,
      substatementId: 1,
      class: 'READ',
      command: 'SELECT',
      objects: [],
      parameterCount: 0,
    },
    sql: {
      kind: 'select',
      reads: ['public.communes'],
      writes: [],
      hasWhere: true,
      hasLimit: false,
      functions: [],
      dangerousFunctions: [],
      redacted: 'SELECT name FROM public.communes WHERE id = $1',
    },
  };
}

const at = (s: number) => new Date(T0 + s * 1000).toISOString();

async function send(events: VigieEvent[]): Promise<void> {
  await producer.send({
    topic: topics.activity,
    messages: events.map((e) => ({ key: sessionKey(cluster, sid), value: encodeEvent(e) })),
  });
}

/** Waits until the detector's group has committed everything on the activity topic (its effects are durable). */
async function consumed(groupId: string): Promise<void> {
  const admin = testKafka().admin();
  await admin.connect();
  try {
    await waitFor(
      async () => {
        const [ends, committed] = await Promise.all([
          admin.fetchTopicOffsets(topics.activity),
          admin.fetchOffsets({ groupId, topics: [topics.activity] }),
        ]);
        const done = new Map(committed[0]?.partitions.map((p) => [p.partition, Number(p.offset)]) ?? []);
        return ends.every((e) => Number(e.high) === 0 || (done.get(e.partition) ?? -1) >= Number(e.high));
      },
      { timeoutMs: 60_000, intervalMs: 100, what: 'the detector to commit every event' },
    );
  } finally {
    await admin.disconnect();
  }
}

/** One simulated minute: statements 60k+1 … 60k+60, one a second. */
const minute = (k: number) => Array.from({ length: 60 }, (_, i) => statement(60 * k + i + 1));

beforeAll(async () => {
  policy = writePolicy(cluster, NEVER_BUSINESS_HOURS, { privileged: [role] });
  producer = testKafka().producer({ allowAutoTopicCreation: false });
  await producer.connect();
}, 60_000);

afterAll(async () => {
  await Promise.all(running.map((d) => d.detector.stop()));
  await producer?.disconnect();
  const admin = testKafka().admin();
  await admin.connect();
  await admin.deleteTopics({ topics: Object.values(topics) }).catch(() => undefined);
  await admin.disconnect();
});

describe('end to end: one incident, few updates', () => {
  it('a ten-minute session gives a handful of revisions, across a crash, and the final alert has every count', async () => {
    const first = await startDetector(cluster, policy, topics, { tickIntervalMs: 1000 });
    running = [first];
    await send([{ v: 1, id: `${cluster}:${sid}:0`, kind: 'session.start', cluster, ts: at(0), session }]);
    for (let k = 0; k < 5; k += 1) {
      await send(minute(k));
      await consumed(first.groupId);
    }
    // Five minutes in: the last revision was at a power of two (256 statements); 300 are counted.
    const [midway] = await first.alerts(`rule=off-hours-privileged-session`);
    expect(midway).toMatchObject({ id: alertId, status: 'firing', what: { statements: 256 } });
    await first.detector.kill();
    running = [];

    const second = await startDetector(cluster, policy, topics, { tickIntervalMs: 1000 }, {}, first);
    running = [second];
    for (let k = 5; k < 10; k += 1) await send(minute(k));
    await send([
      { v: 1, id: `${cluster}:${sid}:end`, kind: 'session.end', cluster, ts: at(601), session, durationMs: 601_000 },
    ]);
    // The session's end is in, stamped long ago: the incident still waits the grace for late socket counters, a
    // minute on the detector's clock from the end's arrival (event time would resolve it at the next tick).
    await consumed(second.groupId);
    const [justEnded] = await second.alerts(`rule=off-hours-privileged-session`);
    expect(justEnded).toMatchObject({ id: alertId, status: 'firing' });
    const [final] = await waitFor(
      async () => {
        const list = await second.alerts(`rule=off-hours-privileged-session`);
        return list[0]?.status === 'resolved' ? list : undefined;
      },
      { timeoutMs: 120_000, intervalMs: 250, what: 'the incident resolved' },
    );
    expect(final).toMatchObject({ id: alertId, status: 'resolved', what: { statements: 600 } });
    expect(final?.lastSeen).toBe(at(600));
    // Its revision number counts every revision the detectors made, published or superseded within a batch.
    expect(final?.revision).toBeLessThanOrEqual(8);

    // Every state published on vigie.alerts.v1: a handful, revisions in order, the last one complete.
    const messages = await readTopic(topics.alerts, (ms) =>
      ms.some((m) => m.key?.toString() === alertId && m.value?.includes('"resolved"')),
    );
    const states = messages
      .filter((m) => m.key?.toString() === alertId)
      .map((m) => decodeAlert(m.value ?? ''))
      .flatMap((d) => (d.ok ? [d.value] : []));
    const revisions = states.map((a: Alert) => a.revision);
    expect(revisions.length).toBeGreaterThanOrEqual(3);
    expect(revisions.length).toBeLessThanOrEqual(8);
    expect(revisions).toEqual([...revisions].sort((a, b) => a - b));
    expect(states.at(-1)).toMatchObject({ status: 'resolved', revision: final?.revision, what: { statements: 600 } });
    // Statement counts only go up from revision to revision (seen here: opened, 60, 120, 180, 256, 512, 600 at the session's end, resolved).
    const counts = states.map((a) => a.what.statements ?? 0);
    expect(counts).toEqual([...counts].sort((a, b) => a - b));

    // The restarted detector counted its revisions and what it held back.
    const metrics = await (await fetch(`http://127.0.0.1:${second.detector.port}/metrics`)).text();
    expect(metrics).toMatch(
      /vigie_alert_revisions_total\{rule="off-hours-privileged-session",reason="resolved"[^}]*\} 1\n/,
    );
    const held = /vigie_alert_updates_held_total\{rule="off-hours-privileged-session"[^}]*\} (\d+)/.exec(metrics)?.[1];
    expect(Number(held)).toBeGreaterThan(250);
  }, 300_000);
});
