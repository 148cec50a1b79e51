import { basename } from 'node:path';
import { parseArgs } from 'node:util';
import { ConfigError, describeError, EXIT } from '@vigie/runtime';
import {
  checkFixture,
  loadFixtureCases,
  SHIPPED_FIXTURES_DIR,
  siteFixturesDirOf,
  type FixtureCase,
  type FixtureResult,
} from './fixture-runner.js';
import { loadRules } from '../rules/load.js';

const USAGE = `usage:
  vigie rules test [--rules <site rules file>] [--fixtures <dir>]
      run the shipped rules' fixtures and the site's (<dir>/<rule id>/*.yaml; default: the fixtures/ directory next
      to the site rules file) through the rule engine, with the site rules applied, and print pass/fail per rule
      exit 0: every fixture passes; 1: a fixture fails (each problem printed); 2: invalid rules, fixtures or usage`;

/** Where `vigie rules test` prints. */
export interface RulesTestOutput {
  out(line: string): void;
  err(line: string): void;
}

const processOutput: RulesTestOutput = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
};

/** `vigie rules test …`: returns the exit code. */
export function rulesTestMain(
  args: string[],
  _env: Record<string, string | undefined>,
  io: RulesTestOutput = processOutput,
): number {
  let v: { rules?: string; fixtures?: string; help?: boolean };
  try {
    v = parseArgs({
      args,
      options: { rules: { type: 'string' }, fixtures: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (error) {
    io.err(`vigie rules test: ${(error as Error).message}\n${USAGE}`);
    return EXIT.config;
  }
  if (v.help === true) {
    io.out(USAGE);
    return EXIT.ok;
  }
  let cases: { source: string; c: FixtureCase }[];
  try {
    // The site rules must load on their own first: their problems are listed, not hidden behind every fixture.
    loadRules({ siteFile: v.rules });
    const siteDir = v.fixtures ?? (v.rules !== undefined ? siteFixturesDirOf(v.rules) : undefined);
    cases = [
      ...loadFixtureCases(SHIPPED_FIXTURES_DIR).map((c) => ({ source: 'shipped', c })),
      ...(siteDir !== undefined ? loadFixtureCases(siteDir).map((c) => ({ source: 'site', c })) : []),
    ];
  } catch (error) {
    // A ConfigError's message lists every problem with its path.
    io.err(`vigie rules test: ${error instanceof ConfigError ? error.message : describeError(error)}`);
    return EXIT.config;
  }
  const byRule = new Map<string, { source: string; result: FixtureResult }[]>();
  for (const { source, c } of cases) {
    const list = byRule.get(c.rule) ?? [];
    list.push({ source, result: checkFixture(c, { siteRulesFile: v.rules }) });
    byRule.set(c.rule, list);
  }
  let failed = 0;
  for (const [rule, results] of [...byRule].sort(([a], [b]) => a.localeCompare(b))) {
    const bad = results.filter((r) => r.result.problems.length > 0);
    const n = results.length;
    io.out(
      `${bad.length === 0 ? 'pass' : 'FAIL'}  ${rule} (${n} fixture${n === 1 ? '' : 's'}${bad.length > 0 ? `, ${bad.length} failed` : ''})`,
    );
    for (const { source, result } of bad) {
      io.out(`        ${source} ${basename(result.file)}`);
      for (const p of result.problems) io.out(`          - ${p}`);
    }
    failed += bad.length;
  }
  io.out(failed === 0 ? `all ${cases.length} fixtures pass` : `${failed} of ${cases.length} fixtures failed`);
  return failed === 0 ? EXIT.ok : EXIT.failure;
}
