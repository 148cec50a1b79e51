import {
  collectorHeartbeat,
  type Alert,
  type CollectorIdentity,
  type StatementEvent,
  type VigieEvent,
} from '@vigie/contract';
import { compilePolicy, loadPolicy } from '@vigie/policy';
import { describe, expect, it } from 'vitest';
import { mechanicsRules } from '../../test-support/mechanics-rules.js';
import { createEngine } from './engine.js';
import type { RuleSet } from './rule-api.js';

const policy = compilePolicy(loadPolicy());
const rules = mechanicsRules();
const none = { isPrivileged: () => false };
const T0 = Date.parse('2026-11-26T10:00:00Z');

function session(id: string, addr = '127.0.0.3') {
  return { id, pid: 1, user: 'dba_alice', database: 'app', clientAddr: addr, applicationName: 'x' };
}

let line = 0;
function stmt(sid: string, at: number, sql: string, over: Partial<StatementEvent['sql']> = {}): VigieEvent {
  line += 1;
  return {
    v: 1,
    id: `local:${sid}:${line}`,
    kind: 'statement',
    cluster: 'local',
    ts: new Date(at).toISOString(),
    session: session(sid),
    audit: {
      auditTypes: ['SESSION'],
      statementId: line,
      substatementId: 1,
      class: 'READ',
      command: 'X',
      objects: [],
      parameterCount: 0,
    },
    sql: {
      kind: 'select',
      reads: [],
      writes: [],
      hasWhere: false,
      hasLimit: false,
      functions: [],
      dangerousFunctions: [],
      redacted: sql,
      ...over,
    },
  };
}
const copy = (sid: string, at: number, table = 'public.citizens') =>
  stmt(sid, at, `COPY ${table} TO stdout`, {
    kind: 'copy',
    reads: [table],
    copy: { direction: 'to', target: 'stdout', relation: table, hasQuery: false },
  });
const dumpPrelude = (sid: string, at: number): VigieEvent[] => [
  stmt(sid, at, 'SET extra_float_digits TO 3', { kind: 'set' }),
  stmt(sid, at + 1, 'SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY', { kind: 'set' }),
  stmt(sid, at + 2, 'LOCK TABLE public.citizens IN ACCESS SHARE MODE', { kind: 'lock' }),
];
function identity(sessionId: string): CollectorIdentity {
  return {
    role: 'vigie_collector',
    applicationName: 'vigie-collector-egress',
    clientAddr: '127.0.0.1',
    replication: false,
    database: 'app',
    pid: parseInt(sessionId.split('.')[1] ?? '0', 16),
    sessionId,
    account: 'vigie',
  };
}
const heartbeat = (at: number, identities: CollectorIdentity[]): VigieEvent =>
  collectorHeartbeat({
    cluster: 'local',
    collector: 'collector-egress',
    instance: 'db1',
    at: new Date(at),
    identities,
  });
const end = (sid: string, at: number): VigieEvent => ({
  v: 1,
  id: `local:${sid}:end`,
  kind: 'session.end',
  cluster: 'local',
  ts: new Date(at).toISOString(),
  session: session(sid),
  durationMs: 1,
});

describe('engine', () => {
  it('refuses rules that did not come from loadRules', () => {
    expect(() => createEngine({ policy, privileged: none, rules: [] as unknown as RuleSet })).toThrowError(
      expect.objectContaining({ code: 'VIGIE_DETECTOR_RULES_INVALID' }) as Error,
    );
  });

  it('emits a 1000-table dump as one alert with O(log n) revisions, and resolves it after the session ends', () => {
    const engine = createEngine({ policy, privileged: none, rules });
    const out: Alert[] = [];
    for (const e of dumpPrelude('6b07e900.1', T0)) out.push(...engine.process(e));
    for (let i = 0; i < 1000; i += 1) out.push(...engine.process(copy('6b07e900.1', T0 + 10 + i, `public.t${i}`)));
    out.push(...engine.process(end('6b07e900.1', T0 + 2000)));
    expect(new Set(out.map((a) => a.id))).toEqual(new Set(['dump:local:6b07e900.1']));
    // Every new table is a revision until the 200-table cap; the statement count (powers of two) at most once a
    // minute: this dump lasts two seconds.
    expect(out.length).toBeLessThan(230);
    expect(out.at(-1)?.what.tables).toHaveLength(200);
    // Not yet: the grace after session end (late egress samples) has not passed.
    expect(engine.tick(T0 + 2000 + 59_000)).toEqual([]);
    const resolved = engine.tick(T0 + 2000 + 60_000);
    expect(resolved.map((a) => [a.id, a.status, a.what.statements])).toEqual([
      ['dump:local:6b07e900.1', 'resolved', 1000],
    ]);
    expect(resolved[0]?.revision).toBe((out.at(-1)?.revision ?? 0) + 1);
    expect(resolved[0]?.lastSeen).toBe(new Date(T0 + 1009).toISOString());
    expect(engine.stats).toEqual({ sessionsTracked: 0, sessionsEvicted: 1 });
  });

  describe("on a detector clock that is not the server's", () => {
    // The server stamps its log; the detector ticks on its own clock. Four days apart either way (a faked clock, a
    // broken NTP): quiet time, end grace and eviction count on the detector's clock from each event's arrival.
    const SKEW = 4 * 86_400_000;
    const dump = (engine: ReturnType<typeof createEngine>, sid: string, arrived: number) => {
      const out: Alert[] = [];
      for (const e of [...dumpPrelude(sid, T0), copy(sid, T0 + 10)]) out.push(...engine.process(e, arrived));
      return out;
    };

    it.each([
      ['behind', -SKEW],
      ['ahead', SKEW],
    ])('resolves an ended session a grace after its end arrived, the detector %s', (_, offset) => {
      const engine = createEngine({ policy, privileged: none, rules });
      const arrived = T0 + offset;
      expect(dump(engine, '6b07e9a0.1', arrived).map((a) => [a.rule, a.status])).toEqual([['dump', 'firing']]);
      engine.process(end('6b07e9a0.1', T0 + 2000), arrived + 2000);
      expect(engine.tick(arrived + 2000 + 59_000)).toEqual([]);
      expect(engine.tick(arrived + 2000 + 60_000).map((a) => [a.rule, a.status, a.lastSeen])).toEqual([
        ['dump', 'resolved', new Date(T0 + 10).toISOString()],
      ]);
      expect(engine.stats).toEqual({ sessionsTracked: 0, sessionsEvicted: 1 });
    });

    it('resolves a session that stops talking a quiet time after its last event arrived, not before', () => {
      const engine = createEngine({ policy, privileged: none, rules });
      const arrived = T0 - SKEW;
      dump(engine, '6b07e9a1.1', arrived);
      const quietMs = rules.rules.find((r) => r.id === 'dump')?.quietMs ?? 0;
      expect(quietMs).toBeGreaterThan(60_000);
      // Behind by four days, event time would never be "quiet"; ahead, every tick would be: neither happens.
      expect(engine.tick(arrived + quietMs - 1000)).toEqual([]);
      expect(engine.tick(arrived + quietMs).map((a) => [a.rule, a.status])).toEqual([['dump', 'resolved']]);
    });

    it.each([
      ['an hour ahead', 3_600_000],
      ['an hour behind', -3_600_000],
    ])('judges a collector silent on the detector clock, its clock %s', (_, offset) => {
      const engine = createEngine({ policy, privileged: none, rules: mechanicsRules() });
      const silentMs = 60_000;
      for (let n = 0; n < 3; n += 1) engine.process(heartbeat(T0 + offset + n * 10_000, []), T0 + n * 10_000);
      // Ahead, the last heartbeat's own time never looks old; behind, it looks old at once: neither counts.
      expect(engine.tick(T0 + 20_000 + silentMs)).toEqual([]);
      expect(engine.tick(T0 + 20_000 + silentMs + 1000).map((a) => [a.rule, a.status])).toEqual([
        ['collector-silent', 'firing'],
      ]);
      // Heard again: resolved at its arrival.
      const back = engine.process(heartbeat(T0 + offset + 120_000, []), T0 + 120_000);
      expect(back.map((a) => [a.rule, a.status])).toEqual([['collector-silent', 'resolved']]);
    });

    it('counts the quiet time of an incident a tick opened from that tick, not from the last event', () => {
      const engine = createEngine({ policy, privileged: none, rules: mechanicsRules() });
      engine.process(heartbeat(T0, []), T0);
      // Heard once, then nothing for ten hours: the tick opens collector-silent (re-raised every 24 h while true).
      const openedAt = T0 + 10 * 3_600_000;
      const opened = engine.tick(openedAt);
      expect(opened.map((a) => [a.rule, a.status])).toEqual([['collector-silent', 'firing']]);
      // 23 hours after it opened (33 after the last event): not yet quiet.
      expect(engine.tick(openedAt + 23 * 3_600_000)).toEqual([]);
      // 24 hours after: resolved and raised again in the same tick (the drain keeps an alert's latest revision).
      const renotified = engine.tick(openedAt + 24 * 3_600_000);
      expect(renotified.map((a) => [a.rule, a.status, a.revision])).toEqual([
        ['collector-silent', 'firing', (opened[0]?.revision ?? 0) + 2],
      ]);
    });

    it('restarts the quiet time of a restored alert at the restore', () => {
      const first = createEngine({ policy, privileged: none, rules });
      const firing = dump(first, '6b07e9a2.1', T0).at(-1) as Alert;
      const second = createEngine({ policy, privileged: none, rules });
      const restoredAt = T0 - SKEW;
      second.restore([firing], restoredAt);
      const quietMs = rules.rules.find((r) => r.id === 'dump')?.quietMs ?? 0;
      expect(second.tick(restoredAt + quietMs - 1000)).toEqual([]);
      expect(second.tick(restoredAt + quietMs).map((a) => [a.id, a.status])).toEqual([
        ['dump:local:6b07e9a2.1', 'resolved'],
      ]);
    });
  });

  it('bounds sessions (LRU) and evicts idle ones on tick', () => {
    const engine = createEngine({ policy, privileged: none, rules, maxSessions: 3, idleSessionMs: 10_000 });
    for (let i = 0; i < 5; i += 1) engine.process(stmt(`6b07e901.${i}`, T0 + i, 'SELECT 1'));
    expect(engine.stats).toEqual({ sessionsTracked: 3, sessionsEvicted: 2 });
    engine.process(stmt('6b07e901.4', T0 + 9_000, 'SELECT 1'));
    engine.tick(T0 + 10_004);
    expect(engine.stats).toEqual({ sessionsTracked: 1, sessionsEvicted: 4 });
  });

  it('continues a restored dump alert after a restart: same id, next revision, no second alert', () => {
    const first = createEngine({ policy, privileged: none, rules });
    let last: Alert | undefined;
    for (const e of [...dumpPrelude('6b07e902.1', T0), copy('6b07e902.1', T0 + 10)])
      last = first.process(e).at(-1) ?? last;
    expect(last?.revision).toBe(1);
    // A new detector process: no session state, only the firing alert from the store.
    const second = createEngine({ policy, privileged: none, rules });
    second.restore([last as Alert]);
    const next = second.process(copy('6b07e902.1', T0 + 20, 'social.payments'));
    expect(next.map((a) => [a.id, a.revision, a.what.tables])).toEqual([
      ['dump:local:6b07e902.1', 2, ['public.citizens', 'social.payments']],
    ]);
    expect(second.alerts?.().filter((a) => a.rule === 'bulk-read')).toEqual([]);
  });

  it('ignores heartbeats; a role taken with SET ROLE exempts nothing', () => {
    // Rules keep state (windows, watched collectors): a fresh set for each engine that is fed heartbeats.
    const engine = createEngine({ policy, privileged: none, rules: mechanicsRules() });
    // The effective role comes from statement text (and a forged record could claim one): only the login exempts.
    const asVigie = engine.process({ ...(copy('6b07e903.2', T0) as StatementEvent), effectiveRole: 'vigie' });
    expect(asVigie.map((a) => [a.rule, a.who.effectiveRole])).toEqual([['dump', 'vigie']]);
    expect(engine.process(heartbeat(T0, []))).toEqual([]);
    expect(engine.stats.sessionsTracked).toBe(1);
  });

  it("is silent on Vigie's announced sessions and raises one critical alert for any other session of its account", () => {
    // A policy that forgets roles.vigie: the collector's announcement alone makes vigie_collector Vigie's account.
    const bare = compilePolicy(loadPolicy());
    const forgetful = compilePolicy({ ...bare.policy, roles: { ...bare.policy.roles, vigie: [] } });
    const engine = createEngine({
      policy: forgetful,
      privileged: { isPrivileged: () => true },
      rules: mechanicsRules(),
    });
    const as = (e: VigieEvent, sid: string, addr: string): VigieEvent => ({
      ...e,
      session: { ...session(sid, addr), user: 'vigie_collector', applicationName: 'vigie-collector-egress' },
    });
    expect(engine.process(heartbeat(T0, [identity('6b07e905.1')]))).toEqual([]);
    // The collector's own session reads what it reads, on any day: nothing (it even copies, here, to be sure).
    expect(engine.process(as(copy('6b07e905.1', T0 + 1000), '6b07e905.1', '127.0.0.1'))).toEqual([]);
    // Ten minutes on: the only news is that the collector itself went quiet (no heartbeat since).
    expect(engine.tick(T0 + 10 * 60_000).map((a) => a.rule)).toEqual(['collector-silent']);
    // The same account from another session (same host, same application name): at once, one incident.
    const raised = engine.process(as(copy('6b07e906.1', T0 + 2000), '6b07e906.1', '127.0.0.1'));
    expect(raised.map((a) => [a.id, a.rule, a.severity])).toEqual([
      ['vigie-account-misuse:local:6b07e906.1', 'vigie-account-misuse', 'critical'],
    ]);
    expect(raised[0]?.what.tables).toEqual(['public.citizens']);
    expect(raised[0]?.summary).toContain('it read personal data (public.citizens)');
    // A heartbeat-like event that came from the log (it has a session) announces nothing.
    const forged = { ...heartbeat(T0 + 3000, [identity('6b07e907.1')]), session: session('6b07e907.1') };
    engine.process(forged as VigieEvent);
    expect(engine.process(as(stmt('6b07e907.1', T0 + 4000, 'SELECT 1'), '6b07e907.1', '127.0.0.1'))).toEqual([]);
    const late = engine.tick(T0 + 4000 + 91_000);
    expect(late.map((a) => [a.id, a.summary.includes('no Vigie component opened it')])).toEqual([
      ['vigie-account-misuse:local:6b07e907.1', true],
    ]);
  });

  it("exempts an announced setup session only: the administrator's role stays everyone's", () => {
    const engine = createEngine({
      policy,
      privileged: { isPrivileged: (_c, r) => r === 'admin' },
      rules: mechanicsRules(),
    });
    const night = Date.parse('2026-11-28T02:00:00Z');
    const asAdmin = (sid: string, at: number) => ({
      ...stmt(sid, at, 'CREATE PUBLICATION vigie_pub FOR ALL TABLES', { kind: 'create' }),
      session: { ...session(sid), user: 'admin' },
    });
    engine.process(heartbeat(night, [{ ...identity('6b07e90b.1'), role: 'admin', account: 'setup' }]));
    expect(engine.process(asAdmin('6b07e90b.1', night + 1000) as VigieEvent)).toEqual([]);
    const other = engine.process(asAdmin('6b07e90c.1', night + 2000) as VigieEvent);
    expect(other.map((a) => a.rule)).toEqual(['off-hours-privileged-session']);
  });

  it('after a restart, the accounts kept in the store make a collector session wait for its announcement', () => {
    const bare = compilePolicy(loadPolicy());
    const forgetful = compilePolicy({ ...bare.policy, roles: { ...bare.policy.roles, vigie: [] } });
    const night = Date.parse('2026-11-28T02:00:00Z');
    const fresh = () =>
      createEngine({ policy: forgetful, privileged: { isPrivileged: () => true }, rules: mechanicsRules() });
    const collectorStatement = {
      ...stmt('6b07e90d.1', night, 'SELECT pid FROM pg_stat_activity'),
      session: { ...session('6b07e90d.1', '127.0.0.1'), user: 'vigie_collector' },
    } as VigieEvent;
    // Without what the store kept, the first event (before any heartbeat) is an operator's privileged session.
    expect(
      fresh()
        .process(collectorStatement)
        .map((a) => a.rule),
    ).toEqual(['off-hours-privileged-session']);
    const restarted = fresh();
    restarted.announceAccounts?.('local', ['vigie_collector'], night - 3_600_000);
    expect(restarted.process(collectorStatement)).toEqual([]);
    restarted.process(heartbeat(night + 5000, [identity('6b07e90d.1')]));
    expect(restarted.tick(night + 30_000)).toEqual([]);
  });

  it('waits for the announcement of a session that does nothing Vigie would not do', () => {
    const engine = createEngine({ policy, privileged: none, rules: mechanicsRules() });
    const mine = { ...stmt('6b07e908.1', T0, 'SELECT 1'), session: { ...session('6b07e908.1'), user: 'vigie' } };
    expect(engine.process(mine as VigieEvent)).toEqual([]);
    // Announced 30 s later (its component's next heartbeat), before the grace ran out: never an alert.
    engine.process(heartbeat(T0 + 30_000, [{ ...identity('6b07e908.1'), role: 'vigie' }]));
    expect(engine.tick(T0 + 60_000)).toEqual([]);
    expect(engine.tick(T0 + 5 * 60_000).map((a) => a.rule)).toEqual(['collector-silent']);
  });

  it('without announcements (a replay of logs) reports only what Vigie never does', () => {
    const engine = createEngine({ policy, privileged: none, rules: mechanicsRules(), announcements: false });
    const quiet = { ...stmt('6b07e909.1', T0, 'SELECT 1'), session: { ...session('6b07e909.1'), user: 'vigie' } };
    expect(engine.process(quiet as VigieEvent)).toEqual([]);
    expect(engine.tick(T0 + 10 * 60_000)).toEqual([]);
    const reading = { ...copy('6b07e90a.1', T0), session: { ...session('6b07e90a.1'), user: 'vigie' } };
    expect(engine.process(reading as VigieEvent).map((a) => a.rule)).toEqual(['vigie-account-misuse']);
  });

  it('joins a WAL transaction to the session whose write carried its txid, within the join window only', () => {
    const engine = createEngine({ policy, privileged: none, rules });
    const txn = (xid: number, at: number, rows: number): VigieEvent => ({
      v: 1,
      id: `local:txn:${xid}`,
      kind: 'change.txn',
      cluster: 'local',
      ts: new Date(at).toISOString(),
      xid,
      commitLsn: `0/${xid.toString(16)}`,
      commitTime: new Date(at).toISOString(),
      tables: [{ table: 'public.citizens', insert: 0, update: 0, delete: rows, truncate: 0 }],
      totalRows: rows,
      messages: [],
    });
    const del = { ...(stmt('6b07e904.1', T0, 'DELETE FROM public.citizens') as StatementEvent), txid: '4242' };
    engine.process(del);
    const named = engine.process(txn(4242, T0 + 500, 1500));
    expect(named.map((a) => [a.id, a.who.login, a.where.clientClass, a.severity])).toEqual([
      ['mass-write:local:6b07e904.1', 'dba_alice', 'non-bastion', 'critical'],
    ]);
    // The same xid eleven minutes later (wrap-around or a stale map): not joined; it waits 15 s for its statement,
    // then is told keyed by the transaction.
    expect(engine.process(txn(4242, T0 + 11 * 60_000, 1500))).toEqual([]);
    expect(engine.tick(T0 + 11 * 60_000 + 14_000)).toEqual([]);
    const later = engine.tick(T0 + 11 * 60_000 + 15_000);
    expect(later.map((a) => [a.id, a.who.login, a.sessionId])).toEqual([
      ['mass-write:local:xid:4242', undefined, undefined],
    ]);
  });

  it('re-sent slot polls update one alert, re-published every five minutes only, and a clear poll resolves it', () => {
    const engine = createEngine({ policy, privileged: none, rules });
    const poll = (n: number, known: boolean): VigieEvent => ({
      v: 1,
      id: `local:slot:exfil:${n}`,
      kind: 'replication.slot',
      cluster: 'local',
      ts: new Date(T0 + n * 30_000).toISOString(),
      slot: 'exfil',
      slotType: 'logical',
      active: true,
      walStatus: 'reserved',
      retainedWalBytes: 1024,
      known,
    });
    const out: Alert[] = [];
    // 100 polls, 30 s apart: nothing a responder acts on changes, only last seen: one revision per 5 minutes.
    for (let n = 0; n < 100; n += 1) out.push(...engine.process(poll(n, false)));
    expect(new Set(out.map((a) => [a.id, a.status].join(' ')))).toEqual(
      new Set(['replication-slot-risk:local:slot:exfil firing']),
    );
    expect(out.map((a) => a.revision)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(out.map((a) => (Date.parse(a.lastSeen) - T0) / 60_000)).toEqual([0, 5, 10, 15, 20, 25, 30, 35, 40, 45]);
    const cleared = engine.process(poll(100, true));
    expect(cleared.map((a) => [a.revision, a.status, a.lastSeen])).toEqual([
      [11, 'resolved', new Date(T0 + 100 * 30_000).toISOString()],
    ]);
  });
});

describe('privileged-role changes', () => {
  it('tells the detector at once when a statement grants role attributes or memberships, not for other changes', () => {
    const changed: string[] = [];
    const engine = createEngine({ policy, privileged: none, rules, onPrivilegesChanged: (c) => changed.push(c) });
    engine.process(
      stmt('6b07e800.1', T0, 'ALTER TABLE t OWNER TO admin', {
        kind: 'ddl',
        privileges: [{ action: 'owner-to', objectType: 'table', owner: 'admin' }],
      }),
    );
    engine.process(
      stmt('6b07e800.1', T0 + 1, 'SET ROLE admin', { privileges: [{ action: 'set-role', role: 'admin' }] }),
    );
    expect(changed).toEqual([]);
    engine.process(
      stmt('6b07e800.1', T0 + 2, 'GRANT pg_read_all_data TO bob', {
        kind: 'grant',
        privileges: [{ action: 'grant-role', roles: ['pg_read_all_data'], grantees: ['bob'] }],
      }),
    );
    engine.process(
      stmt('6b07e800.1', T0 + 3, 'ALTER ROLE bob BYPASSRLS', {
        kind: 'ddl',
        privileges: [{ action: 'role-attributes', role: 'bob', attributes: ['bypassrls'], created: false }],
      }),
    );
    expect(changed).toEqual(['local', 'local']);
  });
});
