import { mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SHIPPED_FIXTURES_DIR } from './fixture-runner.js';
import { rulesTestMain } from './rules-test.js';

// Counted, not written down: other rules' fixtures come and go.
const shippedDump = readdirSync(join(SHIPPED_FIXTURES_DIR, 'dump')).filter((f) => f.endsWith('.yaml')).length;

// A site's tuning: its rules file and, next to it, fixtures/<rule id>/*.yaml.
function site(rules: string, fixtures: Record<string, string> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'vigie-site-'));
  writeFileSync(join(dir, 'rules.yaml'), rules);
  for (const [path, text] of Object.entries(fixtures)) {
    mkdirSync(join(dir, 'fixtures', path, '..'), { recursive: true });
    writeFileSync(join(dir, 'fixtures', path), text);
  }
  return join(dir, 'rules.yaml');
}

function run(args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = rulesTestMain(args, {}, { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out, err };
}

// The contractor's \copy of citizens, as a site would capture it; `expect` decides whether it must raise a dump alert.
const copyFixture = (expectAlert: boolean) => `description: a contractor copies citizens out with psql
sessions:
  c: { id: 6b07e303.2003, user: contractor_bob, clientAddr: 127.0.0.3, applicationName: psql }
events:
  - { s: c, at: '2026-11-26T10:00:00.000Z', kind: session.start }
  - { s: c, at: '2026-11-26T10:00:05.000Z', sql: 'COPY  public.citizens TO STDOUT ', rows: 0 }
alerts: ${expectAlert ? `\n  - { id: 'dump:local:6b07e303.2003', severity: critical }` : '[]'}
`;

describe('vigie rules test', () => {
  it('passes the shipped fixtures and a site fixture that holds, per rule, exit 0', () => {
    const r = run(['--rules', site('overrides: []\n', { 'dump/site-contractor-copy.yaml': copyFixture(true) })]);
    expect(r.err).toEqual([]);
    expect(r.code).toBe(0);
    expect(r.out).toContain(`pass  dump (${shippedDump + 1} fixtures)`);
    expect(r.out).toContainEqual(expect.stringMatching(/^pass {2}bulk-read \(\d+ fixtures\)$/));
    expect(r.out.at(-1)).toMatch(/^all \d+ fixtures pass$/);
    expect(r.out.some((l) => l.startsWith('FAIL'))).toBe(false);
  });

  it('fails (exit 1) on a site fixture that does not hold, naming the file and what differs', () => {
    const r = run(['--rules', site('overrides: []\n', { 'dump/site-contractor-copy.yaml': copyFixture(false) })]);
    expect(r.code).toBe(1);
    expect(r.out).toContain(`FAIL  dump (${shippedDump + 1} fixtures, 1 failed)`);
    expect(r.out).toContain('        site site-contractor-copy.yaml');
    expect(r.out).toContain('          - alert ids: expected [], got ["dump:local:6b07e303.2003"]');
    expect(r.out.at(-1)).toMatch(/^1 of \d+ fixtures failed$/);
  });

  it("shows what a site's tuning breaks in the shipped behaviour: a disabled rule fails its must-match fixtures", () => {
    const r = run(['--rules', site('overrides:\n  - id: dump\n    enabled: false\n')]);
    expect(r.code).toBe(1);
    expect(r.out.find((l) => l.includes(' dump ('))).toMatch(
      new RegExp(`^FAIL {2}dump \\(${shippedDump} fixtures, \\d+ failed\\)$`),
    );
    expect(r.out).toContainEqual(expect.stringMatching(/^pass {2}bulk-read \(\d+ fixtures\)$/));
  });

  it('refuses invalid site rules and bad usage with exit 2, listing the problems', () => {
    const bad = run(['--rules', site('overrides:\n  - id: dump\n    params: { minSteps: one }\n')]);
    expect(bad.code).toBe(2);
    expect(bad.err[0]).toMatch(/^vigie rules test: invalid configuration \(.*rules\.yaml\)/);
    expect(bad.err.join('\n')).toContain('minSteps');
    expect(run(['--nope']).code).toBe(2);
  });
});
