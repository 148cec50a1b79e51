import type { Alert, VigieEvent } from '@vigie/contract';
import { compilePolicy, SitePolicy } from '@vigie/policy';
import { describe, expect, it } from 'vitest';
import { mechanicsRules } from '../../test-support/mechanics-rules.js';
import { createEngine } from './engine.js';

// Never business time and dba_* privileged by the policy: every statement of the session below feeds one
// off-hours-privileged-session incident, whose statement count grows for ten minutes.
const policy = compilePolicy(
  SitePolicy.parse({
    clusters: [{ name: 'local', environment: 'production' }],
    bastion: { networks: ['127.0.0.2/32'] },
    businessHours: { timezone: 'Europe/Paris', days: [], start: '08:00', end: '19:00' },
    personalData: { tables: ['public.citizens'] },
    roles: { privileged: ['dba_*'] },
  }),
);
const rules = mechanicsRules();
const none = { isPrivileged: () => false };
const T0 = Date.parse('2026-11-28T02:00:00Z');
const SID = '6b290a20.2a';
const ID = `off-hours-privileged-session:local:${SID}`;
const session = {
  id: SID,
  pid: 42,
  user: 'dba_alice',
  database: 'app',
  clientAddr: '127.0.0.3',
  applicationName: 'psql',
};

function start(at: number): VigieEvent {
  return {
    v: 1,
    id: `local:${SID}:0`,
    kind: 'session.start',
    cluster: 'local',
    ts: new Date(at).toISOString(),
    session,
  };
}

function statement(n: number, at: number): VigieEvent {
  return {
    v: 1,
    id: `local:${SID}:${n}`,
    kind: 'statement',
    cluster: 'local',
    ts: new Date(at).toISOString(),
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

function end(at: number): VigieEvent {
  return {
    v: 1,
    id: `local:${SID}:end`,
    kind: 'session.end',
    cluster: 'local',
    ts: new Date(at).toISOString(),
    session,
    durationMs: at - T0,
  };
}

/** The session's events from second `from` to second `to` (one statement a second), ticking every 5 s like live. */
function run(engine: ReturnType<typeof createEngine>, from: number, to: number): Alert[] {
  const out: Alert[] = [];
  for (let s = from; s <= to; s += 1) {
    out.push(...engine.process(statement(s, T0 + s * 1000)));
    if (s % 5 === 0) out.push(...engine.tick(T0 + s * 1000 + 500));
  }
  return out;
}

describe('alert revisions', () => {
  it('gives a ten-minute session a handful of revisions, its end publishes the final count at once', () => {
    const engine = createEngine({ policy, privileged: none, rules });
    const out = [...engine.process(start(T0)), ...run(engine, 1, 600)];
    const ended = engine.process(end(T0 + 601_000));
    out.push(...ended, ...engine.tick(T0 + 601_000 + 60_000));
    expect(new Set(out.map((a) => a.id))).toEqual(new Set([ID]));
    expect(ended.map((a) => [a.status, a.what.statements])).toEqual([['firing', 600]]);
    // Opened at the session start; then a count that reached the next power of two, at most once a minute: 60
    // (past 32), 115 (past 64; on a tick, whose clock read 55.5 s at the previous revision), 175 (past 128), 256,
    // 512; the session's end publishes its final count; the resolution (after the grace for late samples) follows.
    expect(out.map((a) => [a.revision, a.status, a.what.statements ?? 0])).toEqual([
      [1, 'firing', 0],
      [2, 'firing', 60],
      [3, 'firing', 115],
      [4, 'firing', 175],
      [5, 'firing', 256],
      [6, 'firing', 512],
      [7, 'firing', 600],
      [8, 'resolved', 600],
    ]);
    expect(out.at(-1)?.lastSeen).toBe(new Date(T0 + 600_000).toISOString());
    expect(out.at(-1)?.summary).toContain('600 statements so far');
    const counts = engine.revisionCounts?.();
    expect(Object.fromEntries(counts?.revisions ?? [])).toEqual({
      'off-hours-privileged-session\u0000opened': 1,
      'off-hours-privileged-session\u0000counts': 5,
      'off-hours-privileged-session\u0000ended': 1,
      'off-hours-privileged-session\u0000resolved': 1,
    });
    // 601 updates (the start and 600 statements); five of them made a revision (115 came from a tick).
    expect(counts?.held.get('off-hours-privileged-session')).toBe(601 - 5);
  });

  it('re-publishes a change held back for refreshEveryMs on the tick clock when no event comes', () => {
    const engine = createEngine({ policy, privileged: none, rules, revisions: { refreshEveryMs: 120_000 } });
    engine.process(start(T0));
    // Three statements: the count crossed 1 and 2 within seconds (held: less than a minute since the opening).
    const held = [1, 2, 3].flatMap((s) => engine.process(statement(s, T0 + s * 1000)));
    expect(held).toEqual([]);
    expect(engine.tick(T0 + 10_000)).toEqual([]); // the tick clock starts counting here
    expect(engine.tick(T0 + 69_000)).toEqual([]);
    expect(engine.tick(T0 + 70_000).map((a) => [a.revision, a.what.statements])).toEqual([[2, 3]]);
  });

  it('publishes what was held back at a flush (stop), once', () => {
    const engine = createEngine({ policy, privileged: none, rules });
    const out = [...engine.process(start(T0)), ...run(engine, 1, 90)];
    expect(out.at(-1)?.what.statements).toBe(60);
    const flushed = engine.flush?.() ?? [];
    expect(flushed.map((a) => [a.revision, a.status, a.what.statements])).toEqual([[3, 'firing', 90]]);
    expect(engine.flush?.()).toEqual([]);
  });

  it('keeps held-back counts across a restart through the pending state the store holds', () => {
    const first = createEngine({ policy, privileged: none, rules });
    const before = [...first.process(start(T0)), ...run(first, 1, 300)];
    expect(before.at(-1)?.what.statements).toBe(256);
    // What the batch handler hands the store after the batch: the latest state, at the last revision.
    const pending = first.pending?.() ?? [];
    expect(pending.map((a) => [a.id, a.revision, a.what.statements])).toEqual([[ID, 5, 300]]);
    expect(first.pending?.()).toEqual([]); // nothing changed since

    // A new process restores the store's latest state (pending over body) and continues from it.
    const second = createEngine({ policy, privileged: none, rules });
    second.restore(pending);
    const after = run(second, 301, 600);
    after.push(...second.process(end(T0 + 601_000)));
    after.push(...second.tick(T0 + 661_000));
    expect(after.map((a) => [a.revision, a.status, a.what.statements])).toEqual([
      [6, 'firing', 512],
      [7, 'firing', 600],
      [8, 'resolved', 600],
    ]);
  });

  it('after a rebuild from the input, keeps the rebuilt state and continues from the stored revision', () => {
    const owner = createEngine({ policy, privileged: none, rules });
    const told = [...owner.process(start(T0)), ...run(owner, 1, 300)];
    const stored = [...told, ...(owner.pending?.() ?? [])].filter((a) => a.id === ID).at(-1) as Alert;
    // The partition moves: a new engine replays the same events (its emissions discarded), then the store's copy.
    const next = createEngine({ policy, privileged: none, rules });
    next.process(start(T0));
    run(next, 1, 300);
    next.pending?.();
    next.restore([{ ...stored, revision: stored.revision + 3 }], T0 + 300_000, T0 - 60_000);
    const after = [...run(next, 301, 600), ...next.process(end(T0 + 601_000))];
    // Counts from the replayed state (not the stored ones added again), revisions after the stored one.
    expect(after.map((a) => [a.revision, a.what.statements])).toEqual([
      [stored.revision + 4, 512],
      [stored.revision + 5, 600],
    ]);
  });

  it('does not load a stored alert the rebuild did not produce from inside its window: its events come again', () => {
    const owner = createEngine({ policy, privileged: none, rules });
    const told = [...owner.process(start(T0)), ...run(owner, 1, 10)];
    const stored = told.filter((a) => a.id === ID).at(-1) as Alert;
    // The owner told the alert but died before committing: the new owner rebuilt nothing of it (empty engine).
    const next = createEngine({ policy, privileged: none, rules });
    next.restore([stored], T0 + 20_000, T0 - 60_000);
    expect(next.alerts?.()).toEqual([]);
    // The events are consumed again: the same incident, its counts told once, its revision after the stored one.
    const again = [...next.process(start(T0)), ...run(next, 1, 10)];
    expect(again.map((a) => [a.id, a.revision, a.what.statements])).toEqual(
      told.map((a) => [a.id, a.revision + stored.revision, a.what.statements]),
    );
    expect(next.flush?.().map((a) => [a.revision, a.what.statements])).toEqual([
      [(again.at(-1)?.revision ?? 0) + 1, 10],
    ]);
  });

  it('publishes an active response at once as the next revision, and later revisions keep it', () => {
    const engine = createEngine({ policy, privileged: none, rules });
    const emitted = [...engine.process(start(T0)), ...run(engine, 1, 10)];
    const before = emitted.filter((a) => a.id === ID).at(-1) as Alert;
    const action = {
      action: 'lock' as const,
      mode: 'manual' as const,
      by: 'oncall',
      at: new Date(T0 + 11_000).toISOString(),
      role: 'dba_alice',
      result: 'done' as const,
      detail: 'dba_alice cannot log in until …',
    };
    const [revised, ...others] = engine.annotate?.(ID, (a) => (a.response = [action])) ?? [];
    expect(others).toEqual([]);
    expect(revised).toMatchObject({ id: ID, revision: before.revision + 1, response: [action] });
    expect(engine.annotate?.('no-such-alert', () => undefined)).toEqual([]);
    // The engine's copy is its own: later revisions (the session's end) still carry the response.
    if (revised?.response) revised.response.length = 0;
    const ended = [...engine.process(statement(11, T0 + 11_500)), ...engine.process(end(T0 + 12_000))].find(
      (a) => a.id === ID,
    );
    expect(ended?.response).toEqual([action]);
  });
});
