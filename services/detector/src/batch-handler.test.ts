import { describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import { collectorHeartbeat, encodeEvent, type Alert, type DeadLetter, type VigieEvent } from '@vigie/contract';
import { compilePolicy, loadPolicy, SitePolicy } from '@vigie/policy';
import { createLogger } from '@vigie/runtime';
import { createEngine } from './engine/index.js';
import { mechanicsRules } from '../test-support/mechanics-rules.js';
import type { DetectorEngine } from './engine/types.js';
import { createDetectorMetrics } from './metrics.js';
import type { RoleSeen, TimelineEntry, VigieAccountSeen } from './sinks/store/alert-store.js';
import { createTimelineRecorder } from './sinks/store/timeline.js';
import { createBatchHandler } from './batch-handler.js';
import { sampleAlert, sampleStatement } from '../test-support/fixtures.js';

/** A stand-in engine: alerts on any statement that COPYs, one incident per session. */
function copyEngine(): DetectorEngine & { seen: string[] } {
  const revisions = new Map<string, number>();
  const seen: string[] = [];
  return {
    seen,
    process(event: VigieEvent): Alert[] {
      seen.push(event.id);
      if (event.kind !== 'statement' || !event.sql.redacted.startsWith('COPY')) return [];
      const id = `dump:${event.cluster}:${event.session?.id ?? ''}`;
      const revision = (revisions.get(id) ?? 0) + 1;
      revisions.set(id, revision);
      return [sampleAlert({ id, sessionId: event.session?.id, revision, lastSeen: event.ts })];
    },
    tick: () => [],
    restore(alerts) {
      for (const a of alerts) revisions.set(a.id, a.revision);
    },
    stats: { sessionsTracked: 1, sessionsEvicted: 0 },
  };
}

function setup() {
  const engine = copyEngine();
  return { ...wire(engine), engine };
}

/**
 * The handler around an engine, with sinks that record what they get. Every partition opens on `engine` (with
 * `restored`) unless `engines` gives one per partition.
 */
function wire(
  engine: DetectorEngine,
  { restored = [], engines }: { restored?: Alert[]; engines?: (partition: number) => DetectorEngine } = {},
) {
  const opened: number[] = [];
  const released: [number, string[]][] = [];
  let hold: Promise<void> = Promise.resolve();
  const registry = new Registry();
  const metrics = createDetectorMetrics(registry, {
    sessionsTracked: () => 0,
    activeAlerts: () => handler.activeByRule(),
    alertmanagerQueue: () => 0,
  });
  const published: { alerts: Alert[]; deadLetters: DeadLetter[] }[] = [];
  const stored: Alert[] = [];
  const pending: Alert[] = [];
  const timeline: TimelineEntry[] = [];
  const roles: RoleSeen[] = [];
  const accounts: VigieAccountSeen[] = [];
  const notified: Alert[] = [];
  const freshness: [string, string, boolean][] = [];
  const handler = createBatchHandler({
    openPartition: async (partition) => {
      opened.push(partition);
      return { engine: engines?.(partition) ?? engine, restored };
    },
    onReleased: (partition, ids) => released.push([partition, [...ids]]),
    policy: compilePolicy(loadPolicy()),
    metrics,
    timeline: createTimelineRecorder({ preAlertEvents: 8, maxEventsPerSession: 100, maxSessions: 100 }),
    logger: createLogger('test', { level: 'silent' }),
    cluster: 'local',
    sources: new Map([['act', 'activity' as const]]),
    sinks: {
      publish: async (alerts, deadLetters) => {
        published.push({ alerts: [...alerts], deadLetters: [...deadLetters] });
      },
      store: {
        upsertAlerts: async (a) => {
          await hold;
          stored.push(...a);
        },
        savePending: async (a) => void pending.push(...a),
        appendTimeline: async (e) => void timeline.push(...e),
        touchRoles: async (r) => void roles.push(...r),
        touchVigieAccounts: async (a) => void accounts.push(...a),
      },
      notify: (a, { fresh }) => {
        notified.push(...a);
        for (const alert of a) freshness.push([alert.id, alert.status, fresh]);
      },
    },
  });
  return {
    engine,
    registry,
    handler,
    published,
    stored,
    pending,
    timeline,
    roles,
    accounts,
    notified,
    freshness,
    opened,
    released,
    /** Store writes wait for `until` (a write in progress). */
    holdStore: (until: Promise<void>): void => {
      hold = until;
    },
  };
}

async function waitUntil(ok: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !ok(); i += 1) await new Promise((r) => setTimeout(r, 5));
}

const msg = (offset: number, event: VigieEvent | string) => ({
  offset: String(offset),
  value: typeof event === 'string' ? Buffer.from(event) : encodeEvent(event),
});

describe('batch handler', () => {
  it("keeps the accounts Vigie's collectors announce, for a restarted detector", async () => {
    const s = setup();
    const beat = (at: string, role: string, account: 'vigie' | 'setup') =>
      collectorHeartbeat({
        cluster: 'local',
        collector: 'collector-replication',
        instance: 'db1',
        at: new Date(at),
        accounts: ['vigie_collector'],
        identities: [
          {
            role,
            applicationName: 'vigie-collector-replication',
            clientAddr: '127.0.0.1',
            replication: false,
            pid: 7,
            sessionId: '6b07e274.7',
            account,
          },
        ],
      });
    await s.handler.handleBatch('act', 0, [
      msg(1, beat('2026-11-26T10:00:00.000Z', 'vigie_reader', 'vigie')),
      msg(2, beat('2026-11-26T10:00:10.000Z', 'admin', 'setup')),
    ]);
    // The setup session's role (an administrator's) is not one of Vigie's accounts; the latest time is kept.
    expect(s.accounts.map((a) => [a.role, a.ts]).sort()).toEqual([
      ['vigie_collector', '2026-11-26T10:00:10.000Z'],
      ['vigie_reader', '2026-11-26T10:00:00.000Z'],
    ]);
  });

  it('feeds events in order, sends each alert state to every sink, and dead-letters bad messages', async () => {
    const s = setup();
    const events = [
      sampleStatement('a.1', 1, 'SET extra_float_digits TO 3'),
      sampleStatement('a.1', 2, 'BEGIN'),
      sampleStatement('a.1', 3, 'COPY public.citizens (id, nir) TO stdout;'),
      sampleStatement('a.1', 4, 'COPY social.payments (id, iban) TO stdout;'),
    ];
    await s.handler.handleBatch('act', 0, [
      msg(10, events[0]!),
      msg(11, '{"nir":"1850775123456"'),
      msg(12, events[1]!),
      { offset: '13', value: null },
      msg(14, events[2]!),
      msg(15, events[3]!),
    ]);
    expect(s.engine.seen).toEqual(['local:a.1:1', 'local:a.1:2', 'local:a.1:3', 'local:a.1:4']);
    expect(s.published).toHaveLength(1);
    // One state per alert per batch: the latest.
    expect(s.published[0]?.alerts.map((a) => a.revision)).toEqual([2]);
    expect(s.published[0]?.deadLetters.map((d) => [d.id, d.reason])).toEqual([
      ['detector:act:0:11', 'undecodable'],
      ['detector:act:0:13', 'undecodable'],
    ]);
    expect(s.published[0]?.deadLetters[0]?.excerpt).not.toContain('1850775123456');
    expect(s.stored.map((a) => a.revision)).toEqual([2]);
    expect(s.notified).toHaveLength(1);
    // The session alerted at its third event: its buffered events and the later one are in the timeline, once.
    expect(s.timeline.map((e) => e.eventId)).toEqual(['local:a.1:1', 'local:a.1:2', 'local:a.1:3', 'local:a.1:4']);
    expect(s.roles).toEqual([{ cluster: 'local', role: 'dba_alice', ts: events[3]!.ts, clientAddr: '127.0.0.3' }]);

    const text = await s.registry.metrics();
    expect(text).toMatch(/vigie_events_consumed_total\{source="activity"\} 4/);
    expect(text).toMatch(/vigie_records_rejected_total\{reason="undecodable"\} 2/);
    expect(text).toMatch(/vigie_alerts_total\{rule="dump",severity="critical"\} 1/);
    expect(text).toMatch(/vigie_alerts_active\{rule="dump",severity="critical"\} 1/);
  });

  it('continues a restored incident instead of raising a new one', async () => {
    const s = wire(copyEngine(), {
      restored: [sampleAlert({ id: 'dump:local:a.1', sessionId: 'a.1', revision: 4 })],
    });
    await s.handler.handleBatch('act', 0, [msg(1, sampleStatement('a.1', 9, 'COPY x TO stdout;'))]);
    expect(s.stored.map((a) => [a.id, a.revision])).toEqual([['dump:local:a.1', 5]]);
    const text = await s.registry.metrics();
    expect(text).not.toMatch(/vigie_alerts_total\{/);
  });

  it('keeps one engine per partition, opened once, and releases a partition taken away without resolving it', async () => {
    const engines = new Map<number, ReturnType<typeof copyEngine>>();
    const s = wire(copyEngine(), {
      engines: (p) => {
        const e = copyEngine();
        engines.set(p, e);
        return e;
      },
    });
    await s.handler.assign([0, 1]);
    expect(s.opened).toEqual([0, 1]);
    await s.handler.handleBatch('act', 0, [msg(1, sampleStatement('a.1', 1, 'COPY x TO stdout;'))]);
    await s.handler.handleBatch('act', 1, [msg(1, sampleStatement('b.1', 1, 'SELECT 1'))]);
    // A partition the consumer delivers before its assignment was applied opens on the way, once.
    await s.handler.handleBatch('act', 2, [msg(1, sampleStatement('c.1', 1, 'SELECT 1'))]);
    await s.handler.handleBatch('act', 2, [msg(2, sampleStatement('c.1', 2, 'SELECT 1'))]);
    expect(s.opened).toEqual([0, 1, 2]);
    expect([0, 1, 2].map((p) => engines.get(p)?.seen.length)).toEqual([1, 1, 2]);
    expect(s.handler.owned()).toEqual([0, 1, 2]);

    // Partition 0 goes to another instance: its firing alert is released, not resolved, and no longer counted here.
    await s.handler.assign([1, 2]);
    expect(s.released).toEqual([[0, ['dump:local:a.1']]]);
    expect(s.handler.owned()).toEqual([1, 2]);
    expect(s.stored.filter((a) => a.status === 'resolved')).toEqual([]);
    expect(await s.registry.metrics()).not.toMatch(/vigie_alerts_active\{rule="dump"/);
    // Given back later, it opens again (restored from the store by the caller), as a new engine.
    await s.handler.assign([0, 1, 2]);
    expect(s.opened).toEqual([0, 1, 2, 0]);
  });

  it('does not feed its engine a message again when the consumer delivers it twice (a rebalance kept the partition)', async () => {
    const s = setup();
    await s.handler.handleBatch('act', 0, [
      msg(1, sampleStatement('a.1', 1, 'x')),
      msg(2, sampleStatement('a.1', 2, 'y')),
    ]);
    // Redelivered from the last committed offset (1), with one new message after it.
    await s.handler.handleBatch('act', 0, [
      msg(1, sampleStatement('a.1', 1, 'x')),
      msg(2, sampleStatement('a.1', 2, 'y')),
      msg(3, sampleStatement('a.1', 3, 'z')),
    ]);
    expect(s.engine.seen).toEqual(['local:a.1:1', 'local:a.1:2', 'local:a.1:3']);
    // Another topic of the same partition has offsets of its own.
    await s.handler.handleBatch('chg', 0, [msg(1, sampleStatement('a.1', 4, 'w'))]);
    expect(s.engine.seen).toHaveLength(4);
  });

  it('tells Alertmanager of a new alert during a large batch, before the batch is written, and once', async () => {
    const s = setup();
    let release: () => void = () => undefined;
    s.holdStore(new Promise<void>((r) => (release = r)));
    const batch = [
      msg(1, sampleStatement('a.1', 1, 'COPY x TO stdout;')),
      ...Array.from({ length: 600 }, (_, i) => msg(i + 2, sampleStatement('b.1', i + 2, 'SELECT 1'))),
    ];
    const done = s.handler.handleBatch('act', 0, batch);
    await waitUntil(() => s.notified.length > 0);
    // Alertmanager has it while the rest of the batch and its store write are still going.
    expect(s.notified.map((a) => a.id)).toEqual(['dump:local:a.1']);
    expect(s.stored).toEqual([]);
    release();
    await done;
    expect(s.stored.map((a) => a.id)).toEqual(['dump:local:a.1']);
    // Not told twice for the same state.
    expect(s.notified.map((a) => [a.id, a.revision])).toEqual([['dump:local:a.1', 1]]);
  });

  it('counts egress bytes by client class and records collector heartbeats', async () => {
    const s = setup();
    const egress: VigieEvent = {
      v: 1,
      id: 'local:e:1',
      kind: 'egress.sample',
      cluster: 'local',
      ts: '2026-11-26T08:00:00.000Z',
      session: { id: 'a.1', pid: 1, clientAddr: '127.0.0.2' },
      transport: 'tcp',
      bytesSent: 5000,
      bytesSentDelta: 1234,
      final: false,
    };
    const heartbeat: VigieEvent = {
      v: 1,
      id: 'local:hb:1',
      kind: 'collector.heartbeat',
      cluster: 'local',
      ts: '2026-11-26T08:00:00.000Z',
      collector: 'collector-pglog',
      instance: 'db1',
    };
    await s.handler.handleBatch('act', 0, [msg(1, egress), msg(2, heartbeat)]);
    const text = await s.registry.metrics();
    expect(text).toMatch(/vigie_egress_bytes_total\{client_class="bastion"\} 1234/);
    expect(text).toMatch(
      /vigie_collector_last_heartbeat_timestamp_seconds\{collector="collector-pglog",cluster="local"\} 1795680000/,
    );
  });

  it('tells Alertmanager which states events produced (latency measured) and which the clock did', async () => {
    const engine = copyEngine();
    let resolving: Alert[] = [];
    engine.tick = () => resolving;
    const s = wire(engine);
    await s.handler.handleBatch('act', 0, [msg(1, sampleStatement('a.1', 1, 'COPY x TO stdout;'))]);
    const [opened] = s.notified;
    // The session went silent: the clock resolves the incident, long after its last event.
    resolving = [{ ...opened!, status: 'resolved', revision: 2 }];
    await s.handler.tick(Date.now());
    expect(s.freshness).toEqual([
      [opened!.id, 'firing', true],
      [opened!.id, 'resolved', false],
    ]);
  });

  it('serializes ticks with batches', async () => {
    const s = setup();
    const order: string[] = [];
    s.engine.tick = () => {
      order.push('tick');
      return [];
    };
    const original = s.engine.process.bind(s.engine);
    s.engine.process = (e) => {
      order.push('event');
      return original(e);
    };
    const a = s.handler.handleBatch('act', 0, [msg(1, sampleStatement('a.1', 1, 'x'))]);
    const t = s.handler.tick(Date.now());
    const b = s.handler.handleBatch('act', 0, [msg(2, sampleStatement('a.1', 2, 'x'))]);
    await Promise.all([a, t, b]);
    expect(order).toEqual(['event', 'tick', 'event']);
  });

  it('stores held-back changes as pending before the batch completes, counts revisions, flushes at stop', async () => {
    // The real engine, a policy where every hour is off hours and dba_* is privileged: each statement of the
    // session updates one off-hours incident; only a count reaching a power of two (at most once a minute) is a
    // revision.
    const policy = compilePolicy(
      SitePolicy.parse({
        clusters: [{ name: 'local', environment: 'production' }],
        businessHours: { timezone: 'Europe/Paris', days: [] },
        roles: { privileged: ['dba_*'] },
      }),
    );
    const engine = createEngine({ policy, privileged: { isPrivileged: () => false }, rules: mechanicsRules() });
    const s = wire(engine);
    const T0 = Date.parse('2026-11-28T02:00:00Z');
    const at = (sec: number) => new Date(T0 + sec * 1000).toISOString();
    // Three batches of 30 statements, one a second.
    for (let b = 0; b < 3; b += 1) {
      const batch = Array.from({ length: 30 }, (_, k) => {
        const n = b * 30 + k + 1;
        return msg(n, sampleStatement('a.1', n, 'SELECT 1', { ts: at(n) }));
      });
      await s.handler.handleBatch('act', 0, batch);
    }
    const id = 'off-hours-privileged-session:local:a.1';
    // Opened at the first statement (1 s); past 32 a minute later (61 s): two revisions in 90 events.
    expect(s.stored.map((a) => [a.id, a.revision, a.what.statements])).toEqual([
      [id, 1, 1],
      [id, 2, 61],
    ]);
    expect(s.published.flatMap((p) => p.alerts.map((a) => a.revision))).toEqual([1, 2]);
    // What the batches held back is in the store's pending copy, at the revision it follows, batch by batch.
    expect(s.pending.map((a) => [a.revision, a.what.statements])).toEqual([
      [1, 30],
      [1, 60],
      [2, 90],
    ]);
    const text = await s.registry.metrics();
    expect(text).toMatch(/vigie_alert_revisions_total\{rule="off-hours-privileged-session",reason="opened"\} 1\n/);
    expect(text).toMatch(/vigie_alert_revisions_total\{rule="off-hours-privileged-session",reason="counts"\} 1\n/);
    expect(text).toMatch(/vigie_alert_updates_held_total\{rule="off-hours-privileged-session"\} 88\n/);

    // A graceful stop: the last state becomes a revision everywhere.
    await s.handler.flush();
    expect(s.stored.at(-1)).toMatchObject({ id, revision: 3, status: 'firing', what: { statements: 90 } });
    expect(s.published.at(-1)?.alerts.map((a) => [a.revision, a.what.statements])).toEqual([[3, 90]]);
    expect(s.notified.at(-1)?.revision).toBe(3);
    expect(await s.registry.metrics()).toMatch(
      /vigie_alert_revisions_total\{rule="off-hours-privileged-session",reason="flush"\} 1\n/,
    );
  });
});
