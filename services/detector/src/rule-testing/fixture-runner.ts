import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Alert } from '@vigie/contract';
import { compilePolicy, loadPolicy, SitePolicy } from '@vigie/policy';
import { parse, stringify } from 'yaml';
import { createEngine } from '../engine/index.js';
import { fixtureEvents, fixtureRoleHistory, RuleFixture } from '../rules/fixture-events.js';
import { loadRules, SHIPPED_RULES_DIR } from '../rules/load.js';

/** The shipped fixtures: `<rule id>/<name>.yaml` under the shipped rules' `fixtures/`. */
export const SHIPPED_FIXTURES_DIR = join(SHIPPED_RULES_DIR, 'fixtures');

/** One fixture file, read and validated. */
export interface FixtureCase {
  /** The rule under test (the fixture's directory name). */
  rule: string;
  file: string;
  fixture: RuleFixture;
}

/** Reads `<dir>/<rule id>/*.yaml` (throws on a file that is not a valid fixture, naming it). */
export function loadFixtureCases(dir: string): FixtureCase[] {
  return readdirSync(dir, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => d.name)
    .sort()
    .flatMap((rule) =>
      readdirSync(join(dir, rule))
        .filter((f) => f.endsWith('.yaml'))
        .sort()
        .map((f) => {
          const file = join(dir, rule, f);
          const parsed = RuleFixture.safeParse(parse(readFileSync(file, 'utf8')));
          if (!parsed.success) {
            const where = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
            throw new Error(`invalid fixture ${file}: ${where}`);
          }
          return { rule, file, fixture: parsed.data };
        }),
    );
}

/** Options of {@link runFixture}. */
export interface RunFixtureOptions {
  /** Site rules applied on top of the shipped ones, unless the fixture brings its own `siteRules`. */
  siteRulesFile?: string | undefined;
}

/**
 * Runs a fixture through a fresh engine (the shipped default policy with the fixture's overrides, the shipped rules
 * plus the site's) and returns the final state of every alert, and what went wrong on the way (a revision out of
 * order).
 */
export function runFixture(c: FixtureCase, options: RunFixtureOptions = {}): { alerts: Alert[]; problems: string[] } {
  const policy = compilePolicy(SitePolicy.parse({ ...loadPolicy(), ...c.fixture.policy }));
  let siteFile = options.siteRulesFile;
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
  const problems: string[] = [];
  const last = new Map<string, number>();
  for (const a of emitted) {
    const want = (last.get(a.id) ?? 0) + 1;
    if (a.revision !== want) problems.push(`${a.id}: revision ${a.revision} emitted where ${want} was due`);
    last.set(a.id, a.revision);
  }
  return { alerts: engine.alerts?.() ?? [], problems };
}

const show = (v: unknown) => JSON.stringify(v);

/** How the alerts of a run differ from what the fixture expects; empty when the fixture passes. */
export function fixtureMismatches(c: FixtureCase, alerts: readonly Alert[]): string[] {
  const out: string[] = [];
  const mine = alerts.filter((a) => a.rule === c.rule);
  if (c.fixture.onlyThisRule) {
    const others = alerts.map((a) => a.rule).filter((r) => r !== c.rule);
    if (others.length > 0) out.push(`other rules raised alerts: ${show(others)}`);
  }
  const got = mine.map((a) => a.id).sort();
  const wanted = c.fixture.alerts.map((a) => a.id).sort();
  if (show(got) !== show(wanted)) out.push(`alert ids: expected ${show(wanted)}, got ${show(got)}`);
  for (const want of c.fixture.alerts) {
    const a = mine.find((x) => x.id === want.id);
    if (a === undefined) continue;
    const check = (what: string, expected: unknown, actual: unknown) => {
      if (expected !== undefined && show(expected) !== show(actual)) {
        out.push(`${want.id} ${what}: expected ${show(expected)}, got ${show(actual)}`);
      }
    };
    check('severity', want.severity, a.severity);
    check('status', want.status, a.status);
    check('tables', want.tables, a.what.tables);
    check('rows', want.rows, a.what.rows);
    check('bytes', want.bytes, a.what.bytes);
    check('statements', want.statements, a.what.statements);
    check('objects', want.objects, a.what.objects);
    if (want.summary !== undefined && !a.summary.includes(want.summary)) {
      out.push(`${want.id} summary: expected to contain ${show(want.summary)}, got ${show(a.summary)}`);
    }
    const missing = (want.tags ?? []).filter((t) => !a.tags.includes(t));
    if (missing.length > 0) out.push(`${want.id} tags: expected ${show(missing)} among ${show(a.tags)}`);
    const unwanted = (want.notTags ?? []).filter((t) => a.tags.includes(t));
    if (unwanted.length > 0) out.push(`${want.id} tags: expected none of ${show(unwanted)}, got ${show(a.tags)}`);
    if (want.revisionAtMost !== undefined && a.revision > want.revisionAtMost) {
      out.push(`${want.id} revision: expected at most ${want.revisionAtMost}, got ${a.revision}`);
    }
    const evidence = a.evidence.eventIds.length;
    if (evidence === 0 || evidence > 20) out.push(`${want.id} evidence: ${evidence} event ids (expected 1 to 20)`);
  }
  return out;
}

/** The verdict on one fixture. */
export interface FixtureResult {
  rule: string;
  file: string;
  problems: string[];
}

/** Runs fixtures and checks them: the table-driven test and `vigie rules test` share this. */
export function checkFixture(c: FixtureCase, options: RunFixtureOptions = {}): FixtureResult {
  let problems: string[];
  try {
    const { alerts, problems: run } = runFixture(c, options);
    problems = [...run, ...fixtureMismatches(c, alerts)];
  } catch (error) {
    problems = [`the run failed: ${(error as Error).message}`];
  }
  return { rule: c.rule, file: c.file, problems };
}

/** The site's fixtures next to its rules file (`<dir>/fixtures`), when that directory exists. */
export function siteFixturesDirOf(siteRulesFile: string): string | undefined {
  const dir = join(siteRulesFile, '..', 'fixtures');
  return existsSync(dir) ? dir : undefined;
}
