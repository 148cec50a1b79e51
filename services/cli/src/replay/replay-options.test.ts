import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import type { Alert } from '@vigie/contract';
import { createPrivilegedRoles, loadRules } from '@vigie/detector';
import { compilePolicy, loadPolicy } from '@vigie/policy';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseInstant, replay, replayMain, type ReplayResult } from './replay.js';
import { countAlerts, formatSummary } from './replay-summary.js';
import { captureReplayIo } from '../../test-support/replay-io.js';

// Real lines captured from the local cluster (test/fixtures/pglog): 23 sessions over about four seconds, among them
// a renamed pg_dump (vigie_fx_pgdump), COPY TO stdout dumps by contractor_bob, a bulk read by admin.
const CAPTURED = fileURLToPath(new URL('../../../../test/fixtures/pglog/cases.json', import.meta.url));
const CAPTURED_CSV = fileURLToPath(new URL('../../../../test/fixtures/pglog/cases.csv', import.meta.url));
const policy = compilePolicy(loadPolicy());
const rules = loadRules();
const dir = mkdtempSync(join(tmpdir(), 'vigie-replay-options-'));

const io = captureReplayIo;

const run = (files: string[], extra: Partial<Parameters<typeof replay>[0]> = {}) =>
  replay({ files, policy, privileged: createPrivilegedRoles({ policy }), rules, ...extra });
const brief = (alerts: readonly Alert[]) =>
  alerts.map((a) => [a.id, a.rule, a.severity, a.summary, a.firstSeen, a.lastSeen, a.status]);
const sameSummary = (s: ReplayResult['summary']) => {
  const { bytes, ...rest } = s;
  void bytes;
  return rest;
};

let whole: ReplayResult;
beforeAll(async () => {
  whole = await run([CAPTURED]);
});

describe('parseInstant', () => {
  it('reads ISO 8601 with an offset, and refuses anything without one or impossible', () => {
    expect(parseInstant('2026-11-26T02:00:00+01:00')).toBe(Date.UTC(2026, 10, 26, 1, 0, 0));
    expect(parseInstant('2026-11-26T01:00Z')).toBe(Date.UTC(2026, 10, 26, 1, 0, 0));
    expect(parseInstant('2026-11-26 01:00:00.250-0230')).toBe(Date.UTC(2026, 10, 26, 3, 30, 0, 250));
    expect(parseInstant('2026-11-26T01:00:00+05')).toBe(Date.UTC(2026, 10, 25, 20, 0, 0));
    for (const bad of [
      '2026-11-26T01:00:00',
      '2026-11-26',
      '2h',
      'yesterday',
      '2026-02-30T00:00Z',
      '2026-11-26T24:00Z',
    ])
      expect(parseInstant(bad), bad).toBeUndefined();
  });
});

describe('replay summary', () => {
  it('counts what the captured log holds', () => {
    const s = whole.summary;
    expect(s.events).toBe(whole.events);
    expect(s.records).toBeGreaterThan(s.events); // continuation lines merged, records ignored
    expect(s.sessions).toBe(23);
    expect(s.roles).toEqual([
      'admin',
      'app_backend',
      'contractor_bob',
      'dba_alice',
      'vigie_fx_nohba',
      'vigie_fx_target',
    ]);
    expect(s.firstEventMs).toBe(Date.parse('2026-12-05T11:54:52.202Z'));
    expect(s.lastEventMs).toBe(Date.parse('2026-12-05T11:54:56.289Z'));
    const rows = countAlerts(whole.alerts, []);
    expect(rows.reduce((t, r) => t + r.total, 0)).toBe(whole.alerts.length);
    expect(rows.find((r) => r.rule === 'dump')?.critical).toBe(whole.alerts.filter((a) => a.rule === 'dump').length);
  });

  it('formats a stable table: every rule a row, zeros included, severity columns and totals', () => {
    const text = formatSummary(
      { ...whole.summary, files: 2, bytes: 1_234_567 },
      countAlerts(
        [
          { rule: 'dump', severity: 'critical' },
          { rule: 'dump', severity: 'warning' },
          { rule: 'bulk-read', severity: 'info' },
        ],
        ['mass-write', 'dump'],
      ),
    );
    expect(text.split('\n').slice(-6)).toEqual([
      'alerts by rule   critical  warning     info    total',
      '  bulk-read             0        0        1        1',
      '  dump                  1        1        0        2',
      '  mass-write            0        0        0        0',
      '  total                 1        1        1        3',
      '',
    ]);
    expect(text).toContain('  files          2 (1,234,567 bytes as stored)\n');
    expect(text).toContain('  window         whole log\n');
    expect(text).toContain('  time covered   2026-12-05T11:54:52.202Z .. 2026-12-05T11:54:56.289Z\n');
    expect(text).toContain('  sessions       23\n');
  });
});

describe('replay of gzip-compressed logs', () => {
  it.each([
    ['jsonlog', CAPTURED, 'cases.json.gz'],
    ['csvlog', CAPTURED_CSV, 'cases.csv.gz'],
    // Recognised by its magic bytes and its first byte, not its name.
    ['csvlog under a name that says nothing', CAPTURED_CSV, 'archive-0001'],
  ])('gives the same alerts and summary as the plain %s', async (_what, file, name) => {
    const plain = file === CAPTURED ? whole : await run([file]);
    const zipped = join(dir, name);
    writeFileSync(zipped, gzipSync(readFileSync(file)));
    const z = await run([zipped]);
    expect(brief(z.alerts)).toEqual(brief(plain.alerts));
    expect(z.alerts.length).toBeGreaterThan(5);
    expect(sameSummary(z.summary)).toEqual(sameSummary(plain.summary));
    expect(z.summary.bytes).toBeLessThan(plain.summary.bytes / 5); // progress and summary count stored bytes
  });

  it('prints the same summary table from the command line, and says which gzip file is corrupt (exit 1)', async () => {
    const zipped = join(dir, 'cli.json.gz');
    writeFileSync(zipped, gzipSync(readFileSync(CAPTURED)));
    const [a, b] = [io(), io()];
    await replayMain([CAPTURED], {}, a);
    await replayMain([zipped], {}, b);
    const table = (out: string) => out.slice(out.indexOf('summary\n')).replace(/files .*\n/, '');
    expect(a.code).toBe(0);
    expect(b.code).toBe(0);
    expect(table(b.out)).toBe(table(a.out));
    expect(table(a.out)).toMatch(/\n {2}dump +\d+ +0 +0 +\d+\n/);
    const broken = join(dir, 'broken.json.gz');
    const gz = gzipSync(readFileSync(CAPTURED));
    writeFileSync(broken, gz.subarray(0, gz.length - 2_000));
    const c = io();
    await replayMain([broken], {}, c);
    expect(c.code).toBe(1);
    expect(c.err).toContain(`VIGIE_PGLOG_GZIP_CORRUPT: corrupt gzip data in ${broken} near compressed byte offset`);
  });
});

describe('replay filters', () => {
  const pgDump = () => whole.alerts.find((a) => a.rule === 'dump' && a.where.applicationName === 'vigie_fx_pgdump')!;

  it('splits the events at a time: before --until plus from --since is the whole log', async () => {
    const t = Date.parse(pgDump().firstSeen);
    const [before, after] = [await run([CAPTURED], { until: t }), await run([CAPTURED], { since: t })];
    expect(before.summary.events).toBeGreaterThan(0);
    expect(after.summary.events).toBeGreaterThan(0);
    expect(before.summary.events + after.summary.events).toBe(whole.summary.events);
    expect(before.summary.lastEventMs).toBeLessThan(t);
    expect(after.summary.firstEventMs).toBeGreaterThanOrEqual(t);
    // The rules saw the earlier events as context, and they are counted apart.
    expect(after.summary.contextEvents).toBe(before.summary.events);
    // Until the dump's first COPY, the dump has not happened: that session is only one from outside the bastion.
    expect(before.alerts.filter((a) => a.sessionId === pgDump().sessionId).map((a) => a.rule)).toEqual([
      'bastion-bypass',
    ]);
  });

  it('judges a session begun before --since whole: the same pg_dump alert, same tables', async () => {
    const dump = pgDump();
    expect(Date.parse(dump.lastSeen)).toBeGreaterThan(Date.parse(dump.firstSeen));
    const since = Date.parse(dump.firstSeen) + 1;
    const r = await run([CAPTURED], { since });
    const found = r.alerts.find((a) => a.id === dump.id);
    expect(found?.what.tables).toEqual(dump.what.tables);
    expect(found?.summary).toBe(dump.summary);
    // Alerts whose activity ended before --since are left out; every kept one reaches into the window.
    expect(r.alerts.length).toBeLessThan(whole.alerts.length);
    expect(r.alerts.every((a) => Date.parse(a.lastSeen) >= since)).toBe(true);
    expect(r.alerts.length).toBe(whole.alerts.filter((a) => Date.parse(a.lastSeen) >= since).length);
  });

  it('keeps the alerts and sessions of one role (login or effective) with --role', async () => {
    const r = await run([CAPTURED], { roles: ['contractor_bob'] });
    const expected = whole.alerts.filter(
      (a) => a.who.login === 'contractor_bob' || a.who.effectiveRole === 'contractor_bob',
    );
    expect(expected.length).toBeGreaterThan(0);
    expect(expected.length).toBeLessThan(whole.alerts.length);
    expect(brief(r.alerts)).toEqual(brief(expected));
    expect(r.summary.roles).toContain('contractor_bob');
    expect(r.summary.roles).not.toContain('vigie_fx_nohba');
    expect(r.summary.sessions).toBeGreaterThan(0);
    expect(r.summary.sessions).toBeLessThan(whole.summary.sessions);
    expect(r.summary.events).toBeLessThan(whole.summary.events);
  });

  it('keeps the alerts of the rules asked for with --rule, every rule still running', async () => {
    const r = await run([CAPTURED], { ruleIds: ['dump', 'audit-tampering'] });
    expect(brief(r.alerts)).toEqual(
      brief(whole.alerts.filter((a) => a.rule === 'dump' || a.rule === 'audit-tampering')),
    );
    // The pg_dump is a dump, and not also a bulk read, with or without the filter.
    expect(r.alerts.filter((a) => a.sessionId === pgDump().sessionId).map((a) => a.rule)).toEqual(['dump']);
  });

  it('prints only the rules asked for in the table', async () => {
    const r = io();
    await replayMain([CAPTURED, '--rule', 'dump', '--role', 'contractor_bob'], {}, r);
    expect(r.code).toBe(0);
    const dumps = whole.alerts.filter((a) => a.rule === 'dump' && a.who.login === 'contractor_bob').length;
    expect(r.out).toContain(`  filters        role contractor_bob; rule dump\n`);
    expect(r.out.slice(r.out.indexOf('alerts by rule'))).toBe(
      [
        'alerts by rule   critical  warning     info    total',
        `  dump          ${String(dumps).padStart(9)}        0        0${String(dumps).padStart(9)}`,
        `  total         ${String(dumps).padStart(9)}        0        0${String(dumps).padStart(9)}`,
        '',
      ].join('\n'),
    );
  });

  it('refuses an unknown rule id, listing the known ones, and a time without an offset (exit 2)', async () => {
    const r = io();
    await replayMain([CAPTURED, '--rule', 'dumps'], {}, r);
    expect(r.code).toBe(2);
    expect(r.err).toContain(
      '--rule: expected one of the enabled rule ids (audit-tampering, auth-brute-force, bastion-bypass, bulk-read,',
    );
    expect(r.err).toContain('dump, forged-audit-record');
    expect(r.err).toContain('found "dumps"');
    const t = io();
    await replayMain([CAPTURED, '--since', '2026-12-05T12:54:00', '--until', '2h'], {}, t);
    expect(t.code).toBe(2);
    expect(t.err).toContain('--since: expected an ISO 8601 date and time with a UTC offset');
    expect(t.err).toContain('found "2026-12-05T12:54:00"');
    expect(t.err).toContain('found "2h"');
    const order = io();
    await replayMain([CAPTURED, '--since', '2026-12-05T12:00Z', '--until', '2026-12-05T11:00Z'], {}, order);
    expect(order.code).toBe(2);
    expect(order.err).toContain('--until: expected a time after --since');
  });

  it('keeps stdout one JSON object per line with --json: the table goes to stderr', async () => {
    const r = io();
    await replayMain([CAPTURED, '--json'], {}, r);
    const lines = r.out.trim().split('\n');
    expect(lines).toHaveLength(whole.alerts.length);
    for (const l of lines) expect(() => JSON.parse(l) as unknown).not.toThrow();
    expect(r.err).toContain('\nalerts by rule ');
  });

  it('draws progress on a terminal stream during the run and erases it, and nothing on a pipe', async () => {
    const drawn: string[] = [];
    const tty = io();
    tty.progress = { isTTY: true, write: (t: string) => drawn.push(t) };
    await replayMain([CAPTURED], {}, tty);
    expect(tty.code).toBe(0);
    // One chunk of 343,840 bytes: the first read is drawn at once, then erased before the summary.
    expect(drawn[0]?.startsWith('\rreplay: ')).toBe(true);
    expect(drawn[0]?.endsWith('records  -- records/s  343.8 kB of 343.8 kB (100%)  ETA --\x1b[K')).toBe(true);
    expect(drawn.at(-1)).toBe('\r\x1b[K');
    expect(tty.out).not.toContain('\r');
    const piped: string[] = [];
    const pipe = io();
    pipe.progress = { isTTY: false, write: (t: string) => piped.push(t) };
    await replayMain([CAPTURED], {}, pipe);
    expect(pipe.code).toBe(0);
    expect(piped).toEqual([]);
  });
});
