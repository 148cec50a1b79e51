import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createPrivilegedRoles } from '@vigie/detector';
import { compilePolicy, loadPolicy } from '@vigie/policy';
import { describe, expect, it } from 'vitest';
import { replay, replayMain } from './replay.js';
import { captureReplayIo } from '../../test-support/replay-io.js';

// Real lines captured from the local cluster by collector-pglog's fixture script (test/fixtures/pglog): among
// other sessions, one pg_dump of app run with application_name renamed to vigie_fx_pgdump.
const CAPTURED = fileURLToPath(new URL('../../../../test/fixtures/pglog/cases.json', import.meta.url));
const CAPTURED_CSV = fileURLToPath(new URL('../../../../test/fixtures/pglog/cases.csv', import.meta.url));
// Captured by the detector's own run of a plain `pg_dump -U dba_alice app` (see rules/fixtures/logs/README.md).
const OWN_DUMP = fileURLToPath(new URL('../../../detector/rules/fixtures/logs/pg-dump-app.json', import.meta.url));
const OWN_DUMP_CSV = fileURLToPath(new URL('../../../detector/rules/fixtures/logs/pg-dump-app.csv', import.meta.url));
const policy = compilePolicy(loadPolicy());

/** A policy file where no hour is business time (every privileged session is off hours); extra YAML appended. */
function neverBusinessPolicy(extra = ''): string {
  const file = join(mkdtempSync(join(tmpdir(), 'vigie-replay-policy-')), 'policy.yaml');
  writeFileSync(
    file,
    `clusters: [{ name: local, environment: production }]
bastion: { networks: ['127.0.0.2/32'] }
businessHours: { timezone: Europe/Paris, days: [] }
personalData: { tables: ['public.citizens', 'social.*'] }
${extra}`,
  );
  return file;
}

const io = captureReplayIo;

describe('replay', () => {
  it.each([
    ['jsonlog', CAPTURED],
    ['csvlog', CAPTURED_CSV],
  ])('finds exactly one dump alert in a captured %s with a renamed pg_dump', async (_format, file) => {
    const { alerts, events } = await replay({ files: [file], policy, privileged: createPrivilegedRoles({ policy }) });
    expect(events).toBeGreaterThan(100);
    const dumps = alerts.filter((a) => a.rule === 'dump' && a.where.applicationName === 'vigie_fx_pgdump');
    expect(dumps).toHaveLength(1);
    const dump = dumps[0];
    expect(dump?.id).toBe(`dump:local:${dump?.sessionId}`);
    expect(dump?.what.tables).toContain('public.citizens');
    expect(dump?.summary).toMatch(/^pg_dump of app \(application_name "vigie_fx_pgdump"\) \(\d+ tables/);
    // pg_dump reads the sequences of social.* without WHERE: that is the dump, not a bulk read besides it (the
    // session's place outside the bastion is bastion-bypass's own incident).
    expect(
      alerts
        .filter((a) => a.sessionId === dump?.sessionId)
        .map((a) => a.rule)
        .sort(),
    ).toEqual(['bastion-bypass', 'dump']);
  });

  it.each([
    ['jsonlog', OWN_DUMP],
    ['csvlog', OWN_DUMP_CSV],
  ])(
    'prints the dump and the bastion bypass, one alert each, for a captured plain pg_dump session (%s)',
    async (_format, file) => {
      const r = io();
      await replayMain([file, '--json'], {}, r);
      expect(r.code).toBe(0);
      const lines = r.out
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      // The dump, and the session itself: a human role outside the bastion (warning: a replay without --pg does not
      // know dba_alice is privileged).
      expect(lines.map((l) => [l['id'], l['rule'], l['severity'], l['role'], l['client_addr']])).toEqual([
        ['bastion-bypass:local:6b07eecc.31a9', 'bastion-bypass', 'warning', 'dba_alice', '127.0.0.1'],
        ['dump:local:6b07eecc.31a9', 'dump', 'critical', 'dba_alice', '127.0.0.1'],
      ]);
      expect(lines[1]?.['summary']).toMatch(
        /^pg_dump of app \(\d+ tables\) by dba_alice from 127\.0\.0\.1 \(not the bastion\) at 09:33 Europe\/Paris$/,
      );
      expect(lines[1]?.['first_seen']).toBe('2026-11-26T08:33:16.894Z'); // the first COPY: the data started leaving;
    },
  );

  it('gives the same alerts on a second run (deterministic ids, revisions and summaries)', async () => {
    const run = () => replay({ files: [CAPTURED], policy, privileged: createPrivilegedRoles({ policy }) });
    const [a, b] = [await run(), await run()];
    expect(b.alerts).toEqual(a.alerts);
  });

  it('prints one JSON object per alert with the documented fields, exit 0', async () => {
    const r = io();
    await replayMain([CAPTURED, '--json'], {}, r);
    expect(r.code).toBe(0);
    const lines = r.out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const dump = lines.find((l) => l['rule'] === 'dump' && l['application_name'] === 'vigie_fx_pgdump');
    for (const k of [
      'id',
      'rule',
      'severity',
      'summary',
      'cluster',
      'session_id',
      'role',
      'client_addr',
      'first_seen',
      'last_seen',
    ]) {
      expect(dump, k).toHaveProperty(k);
    }
    expect(dump?.['cluster']).toBe('local');
    expect(r.err).toMatch(/events from 1 file\(s\)/);
  });

  it('prints a readable line per alert', async () => {
    const r = io();
    await replayMain([CAPTURED], {}, r);
    expect(r.out).toMatch(/Europe\/Paris\s+(WARNING|CRITICAL)\s+dump\s+pg_dump of app/);
  });

  it('refuses unknown options and missing files with exit 2', async () => {
    const bad = io();
    await replayMain([CAPTURED, '--jsn'], {}, bad);
    expect(bad.code).toBe(2);
    expect(bad.err).toContain("Unknown option '--jsn'");
    const missing = io();
    await replayMain(['/nonexistent/postgresql.json'], {}, missing);
    expect(missing.code).toBe(2);
    expect(missing.err).toContain('/nonexistent/postgresql.json (ENOENT)');
  });

  it.each([
    ['clusters: 3', 'clusters: 3\n', 'clusters: expected'],
    ['roles: a string', 'clusters: [{ name: a, environment: production }]\nroles: dba\n', 'roles: expected'],
    ['an empty file', '', 'clusters: expected'],
  ])('lists the problems of a policy with %s and exits 2 (no TypeError)', async (_what, text, problem) => {
    const policyFile = join(mkdtempSync(join(tmpdir(), 'vigie-replay-policy-')), 'policy.yaml');
    writeFileSync(policyFile, text);
    const r = io();
    await replayMain([CAPTURED, '--policy', policyFile], {}, r);
    expect(r.code).toBe(2);
    expect(r.err).toContain(problem);
    expect(r.err).not.toContain('TypeError');
  });

  it('says which rules are blind without --pg and roles.privileged, and that they raised nothing', async () => {
    // The captured log has sessions of admin (superuser) and dba_alice (CREATEROLE): all off hours here.
    const r = io();
    await replayMain([CAPTURED, '--json', '--policy', neverBusinessPolicy()], {}, r);
    expect(r.code).toBe(0);
    expect(r.err).toContain(
      'vigie replay: warning: no --pg and no roles.privileged in the policy: no role is known to be privileged, so off-hours-privileged-session cannot raise any alert (not even for a superuser).',
    );
    expect(r.out).not.toContain('off-hours-privileged-session');
  });

  it('warns that only the listed roles count when the policy lists some, and alerts for those', async () => {
    const r = io();
    await replayMain([CAPTURED, '--json', '--policy', neverBusinessPolicy('roles: { privileged: [admin] }')], {}, r);
    expect(r.code).toBe(0);
    expect(r.err).toContain(
      "vigie replay: warning: no --pg: only the policy's roles.privileged (admin) count as privileged; off-hours-privileged-session cannot see other superusers",
    );
    const offHours = r.out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((l) => l['rule'] === 'off-hours-privileged-session');
    expect(offHours.length).toBeGreaterThan(0);
    expect(new Set(offHours.map((l) => l['login']))).toEqual(new Set(['admin']));
  });

  it('does not warn when no enabled rule needs privileged roles', async () => {
    const rules = join(mkdtempSync(join(tmpdir(), 'vigie-replay-rules-')), 'site-rules.yaml');
    writeFileSync(rules, 'overrides: [{ id: off-hours-privileged-session, enabled: false }]\n');
    const r = io();
    await replayMain([OWN_DUMP, '--json', '--rules', rules], {}, r);
    expect(r.code).toBe(0);
    // (The summary table on stderr has a `warning` severity column: only a warning line would say `warning:`.)
    expect(r.err).not.toContain('warning:');
  });
});
