import { collectorHeartbeat, type Alert, type EventKind, type VigieEvent } from '@vigie/contract';
import { compilePolicy, loadPolicy } from '@vigie/policy';
import { describe, expect, it } from 'vitest';
import { createEngine } from './engine.js';
import type { CompiledRule, RuleScope, RuleSet } from './rule-api.js';

const policy = compilePolicy(loadPolicy());
const none = { isPrivileged: () => false };
const T0 = Date.parse('2026-11-26T10:00:00Z');
const session = { id: '6b07e900.1', pid: 1, user: 'dba_alice', database: 'app', clientAddr: '127.0.0.3' };

const start: VigieEvent = {
  v: 1,
  id: 'local:6b07e900.1:1',
  kind: 'session.start',
  cluster: 'local',
  ts: new Date(T0).toISOString(),
  session,
};
const end: VigieEvent = { ...start, id: 'local:6b07e900.1:3', kind: 'session.end', durationMs: 5 };
const failure: VigieEvent = {
  v: 1,
  id: 'local:auth:2',
  kind: 'auth.failure',
  cluster: 'local',
  ts: new Date(T0 + 1).toISOString(),
  session,
  sqlstate: '28P01',
  reason: 'password',
};
const heartbeat = collectorHeartbeat({
  cluster: 'local',
  collector: 'collector-pglog',
  instance: 'db1',
  at: new Date(T0 + 2),
});

/** A rule that records what it is handed (and may claim the session of what it sees). */
function probe(
  id: string,
  kinds: readonly EventKind[],
  seen: string[],
  over: { scope?: RuleScope; claims?: 'session'; claim?: boolean } = {},
): CompiledRule {
  return {
    id,
    type: 'probe',
    title: id,
    severity: 'info',
    tags: [],
    description: id,
    quietMs: 60_000,
    kinds,
    ...(over.scope !== undefined && { scope: over.scope }),
    ...(over.claims !== undefined && { claims: over.claims }),
    accepts: () => true,
    onEvent(event, s, ctx) {
      if (over.claim === true && s !== undefined) ctx.claimSession(s.key);
      seen.push(`${id} ${event.kind}${s !== undefined && ctx.claimed(s.key) ? ' claimed' : ''}`);
    },
    summarize: () => id,
  };
}

const ruleSet = (rules: CompiledRule[]): RuleSet => ({ rules, disabled: [], sources: [] });

describe('engine routing by event kind', () => {
  it('hands each rule only the kinds it declared, within its scope', () => {
    const seen: string[] = [];
    const engine = createEngine({
      policy,
      privileged: none,
      rules: ruleSet([
        probe('starts', ['session.start'], seen),
        probe('lifecycle', ['session.start', 'session.end'], seen),
        probe('failures', ['auth.failure', 'collector.heartbeat'], seen),
        probe('beats', ['collector.heartbeat'], seen, { scope: 'heartbeats' }),
        probe('deaf', [], seen),
      ]),
    });
    for (const e of [start, failure, heartbeat, end]) engine.process(e);
    expect(seen).toEqual([
      'starts session.start',
      'lifecycle session.start',
      'failures auth.failure',
      // A heartbeat goes to the heartbeats scope only, whatever an activity rule declares.
      'beats collector.heartbeat',
      'lifecycle session.end',
    ]);
  });

  it('runs claiming rules first, whatever their place in the rule set, and tells the others of the claim', () => {
    const seen: string[] = [];
    const engine = createEngine({
      policy,
      privileged: none,
      rules: ruleSet([
        probe('reader', ['session.start', 'session.end'], seen),
        probe('claimer', ['session.start'], seen, { claims: 'session', claim: true }),
      ]),
    });
    engine.process(start);
    engine.process(end);
    expect(seen).toEqual([
      'claimer session.start claimed',
      'reader session.start claimed',
      'reader session.end claimed',
    ]);
  });

  it('restores the claim of a firing alert of a claiming rule, and of no other rule', () => {
    const seen: string[] = [];
    const engine = createEngine({
      policy,
      privileged: none,
      rules: ruleSet([
        probe('claimer', [], seen, { claims: 'session' }),
        probe('other', [], seen),
        probe('reader', ['session.start'], seen),
      ]),
    });
    const alert = (rule: string, sessionId: string): Alert => ({
      v: 1,
      id: `${rule}:local:${sessionId}`,
      rule,
      severity: 'info',
      status: 'firing',
      title: rule,
      summary: rule,
      cluster: 'local',
      sessionId,
      who: {},
      where: { clientClass: 'unknown' },
      what: { tables: [] },
      evidence: { eventIds: [], statements: [] },
      tags: [],
      firstSeen: new Date(T0).toISOString(),
      lastSeen: new Date(T0).toISOString(),
      revision: 1,
    });
    engine.restore([alert('claimer', '6b07e900.1'), alert('other', '6b07e900.2')], T0);
    engine.process(start);
    engine.process({ ...start, id: 'local:6b07e900.2:1', session: { ...session, id: '6b07e900.2' } });
    expect(seen).toEqual(['reader session.start claimed', 'reader session.start']);
  });
});
