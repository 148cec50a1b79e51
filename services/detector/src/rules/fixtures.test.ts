import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Alert } from '@vigie/contract';
import { compilePolicy, loadPolicy, SitePolicy } from '@vigie/policy';
import { describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { createEngine } from '../engine/engine.js';
import { fixtureEvents, fixtureRoleHistory, RuleFixture } from './fixture-events.js';
import { loadRules, SHIPPED_RULES_DIR } from './load.js';

const FIXTURES = join(SHIPPED_RULES_DIR, 'fixtures');
const base = loadPolicy();

interface Case {
  rule: string;
  file: string;
  fixture: RuleFixture;
}

const cases: Case[] = readdirSync(FIXTURES).flatMap((rule) =>
  readdirSync(join(FIXTURES, rule))
    .filter((f) => f.endsWith('.yaml'))
    .sort()
    .map((file) => ({
      rule,
      file,
      fixture: RuleFixture.parse(parse(readFileSync(join(FIXTURES, rule, file), 'utf8'))),
    })),
);

function run(c: Case): Alert[] {
  const policy = compilePolicy(SitePolicy.parse({ ...base, ...c.fixture.policy }));
  let siteFile: string | undefined;
  if (c.fixture.siteRules !== undefined) {
    siteFile = join(mkdtempSync(join(tmpdir(), 'vigie-rules-')), 'site.yaml');
    writeFileSync(siteFile, stringify(c.fixture.siteRules));
  }
  const privileged = new Set(c.fixture.privileged);
  const engine = createEngine({
    policy,
    privileged: { isPrivileged: (_cluster, role) => privileged.has(role) },
    rules: loadRules({ siteFile }),
    expectedCollectors: c.fixture.expectedCollectors,
    roleHistory: fixtureRoleHistory(c.fixture),
  });
  const emitted: Alert[] = [];
  for (const step of fixtureEvents(c.fixture)) {
    emitted.push(...('tick' in step ? engine.tick(step.tick) : engine.process(step)));
  }
  if (c.fixture.tickAt !== undefined) emitted.push(...engine.tick(Date.parse(c.fixture.tickAt)));
  emitted.push(...(engine.flush?.() ?? []));
  // Every emission is a valid new revision of its alert, in order.
  const last = new Map<string, number>();
  for (const a of emitted) {
    expect(a.revision).toBe((last.get(a.id) ?? 0) + 1);
    last.set(a.id, a.revision);
  }
  return engine.alerts?.() ?? [];
}

describe('rule fixtures', () => {
  it('every shipped rule has fixtures that must match and fixtures that must not', () => {
    const shipped = loadRules().rules.map((r) => r.id);
    for (const id of shipped) {
      const mine = cases.filter((c) => c.rule === id);
      expect(
        mine.some((c) => c.fixture.alerts.length > 0),
        `${id} has a must-match fixture`,
      ).toBe(true);
      expect(
        mine.some((c) => c.fixture.alerts.length === 0),
        `${id} has a must-not-match fixture`,
      ).toBe(true);
    }
  });

  it.each(cases.map((c) => [`${c.rule}/${c.file}`, c] as const))('%s', (_name, c) => {
    const alerts = run(c);
    const mine = alerts.filter((a) => a.rule === c.rule);
    if (c.fixture.onlyThisRule) expect(alerts.map((a) => a.rule).filter((r) => r !== c.rule)).toEqual([]);
    expect(mine.map((a) => a.id).sort()).toEqual(c.fixture.alerts.map((a) => a.id).sort());
    for (const want of c.fixture.alerts) {
      const got = mine.find((a) => a.id === want.id) as Alert;
      expect(got.severity, `${want.id} severity`).toBe(want.severity);
      if (want.status !== undefined) expect(got.status).toBe(want.status);
      if (want.tables !== undefined) expect(got.what.tables).toEqual(want.tables);
      if (want.rows !== undefined) expect(got.what.rows).toBe(want.rows);
      if (want.bytes !== undefined) expect(got.what.bytes).toBe(want.bytes);
      if (want.statements !== undefined) expect(got.what.statements).toBe(want.statements);
      if (want.objects !== undefined) expect(got.what.objects).toEqual(want.objects);
      if (want.summary !== undefined) expect(got.summary).toContain(want.summary);
      if (want.tags !== undefined) expect(got.tags).toEqual(expect.arrayContaining(want.tags));
      for (const tag of want.notTags ?? []) expect(got.tags).not.toContain(tag);
      if (want.revisionAtMost !== undefined) expect(got.revision).toBeLessThanOrEqual(want.revisionAtMost);
      expect(got.evidence.eventIds.length).toBeGreaterThan(0);
      expect(got.evidence.eventIds.length).toBeLessThanOrEqual(20);
    }
  });
});
