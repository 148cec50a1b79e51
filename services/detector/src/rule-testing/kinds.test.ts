import type { Alert, EventKind } from '@vigie/contract';
import { compilePolicy, loadPolicy, SitePolicy } from '@vigie/policy';
import { describe, expect, it } from 'vitest';
import { createEngine } from '../engine/index.js';
import { ALL_EVENT_KINDS, type CompiledRule, type RuleSet } from '../engine/rule-api.js';
import { fixtureEvents, fixtureRoleHistory } from '../rules/fixture-events.js';
import { loadFixtureCases, SHIPPED_FIXTURES_DIR, type FixtureCase } from './fixture-runner.js';
import { loadRules } from '../rules/load.js';

const cases = loadFixtureCases(SHIPPED_FIXTURES_DIR).filter((c) => c.fixture.siteRules === undefined);

/** Runs a fixture through an engine with the given rules; returns the alerts and the kinds each rule was handed. */
function run(c: FixtureCase, rules: RuleSet): { alerts: Alert[]; handed: Map<string, Set<EventKind>> } {
  const handed = new Map<string, Set<EventKind>>();
  const spied: CompiledRule[] = rules.rules.map((r) => ({
    ...r,
    onEvent(event, session, ctx) {
      const kinds = handed.get(r.id) ?? new Set<EventKind>();
      handed.set(r.id, kinds.add(event.kind));
      r.onEvent(event, session, ctx);
    },
  }));
  const privileged = new Set(c.fixture.privileged);
  const engine = createEngine({
    policy: compilePolicy(SitePolicy.parse({ ...loadPolicy(), ...c.fixture.policy })),
    privileged: { isPrivileged: (_cluster, role) => privileged.has(role) },
    rules: { ...rules, rules: spied },
    expectedCollectors: c.fixture.expectedCollectors,
    roleHistory: fixtureRoleHistory(c.fixture),
  });
  const alerts: Alert[] = [];
  for (const step of fixtureEvents(c.fixture))
    alerts.push(...('tick' in step ? engine.tick(step.tick) : engine.process(step)));
  if (c.fixture.tickAt !== undefined) alerts.push(...engine.tick(Date.parse(c.fixture.tickAt)));
  alerts.push(...(engine.flush?.() ?? []));
  return { alerts, handed };
}

describe('the event kinds rules declare', () => {
  it.each(cases.map((c) => [`${c.rule}/${c.file.split('/').at(-1) ?? ''}`, c] as const))(
    '%s: no rule is handed a kind it did not declare, and declaring every kind changes no alert',
    (_name, c) => {
      const shipped = loadRules();
      const declared = new Map(shipped.rules.map((r) => [r.id, new Set(r.kinds)]));
      const routed = run(c, shipped);
      for (const [rule, kinds] of routed.handed)
        for (const k of kinds) expect(declared.get(rule)?.has(k), `${rule} was handed ${k}`).toBe(true);
      // Fresh rule instances: rules keep state in their closures.
      const fresh = loadRules();
      const everything = run(c, { ...fresh, rules: fresh.rules.map((r) => ({ ...r, kinds: ALL_EVENT_KINDS })) });
      expect(routed.alerts).toEqual(everything.alerts);
    },
  );

  it('routes by kind for real: with every kind declared, rules are handed kinds they do not read', () => {
    const shipped = loadRules();
    const widened = () => {
      const fresh = loadRules();
      return { ...fresh, rules: fresh.rules.map((r) => ({ ...r, kinds: ALL_EVENT_KINDS })) };
    };
    const extra = cases.some((c) =>
      [...run(c, widened()).handed].some(([rule, kinds]) => {
        const declared = new Set(shipped.rules.find((r) => r.id === rule)?.kinds);
        return [...kinds].some((k) => !declared.has(k));
      }),
    );
    expect(extra).toBe(true);
  });

  it('every rule declares at least one kind, each a kind of the contract', () => {
    for (const r of loadRules().rules) {
      expect(r.kinds.length, r.id).toBeGreaterThan(0);
      for (const k of r.kinds) expect(ALL_EVENT_KINDS).toContain(k);
    }
  });
});
