import { describe, expect, it } from 'vitest';
import type { Alert } from '@vigie/contract';
import { createAlertPrinter, terminalSafe } from './alert-printer.js';

const START = Date.parse('2026-11-26T08:00:00.000Z');

function alert(overrides: Partial<Alert> = {}): Alert {
  return {
    v: 1,
    id: 'dump:local:6b07e26d.1a57',
    rule: 'dump',
    severity: 'warning',
    status: 'firing',
    title: 'Database dump',
    summary: 'pg_dump of app by dba_alice',
    cluster: 'local',
    who: { login: 'dba_alice' },
    where: { clientClass: 'non-bastion' },
    what: { tables: ['public.citizens'] },
    evidence: { eventIds: [], statements: [] },
    tags: [],
    firstSeen: '2026-11-26T08:00:30.000Z',
    lastSeen: '2026-11-26T08:00:31.000Z',
    revision: 1,
    ...overrides,
  };
}

const printer = () =>
  createAlertPrinter({ startedAtMs: START, pageUrl: (a) => `http://127.0.0.1:18080/alerts/ref-of-${a.rule}` });

describe('vigie start: alert lines', () => {
  it('prints an incident once when it opens, once when its severity rises, once when it resolves', () => {
    const p = printer();
    const out = [
      // Opens (warning), then grows table after table: counts only, nothing printed.
      ...p.observe(alert()),
      ...p.observe(alert({ revision: 2, what: { tables: ['public.citizens', 'social.payments'], rows: 10 } })),
      ...p.observe(alert({ revision: 3, what: { tables: ['a', 'b', 'c'], rows: 2000 } })),
      // Re-delivered revision (Kafka at-least-once, or a restart re-publishing): nothing.
      ...p.observe(alert({ revision: 3 })),
      ...p.observe(alert({ revision: 2 })),
      // Severity rises.
      ...p.observe(alert({ revision: 4, severity: 'critical', lastSeen: '2026-11-26T08:01:00.000Z' })),
      ...p.observe(alert({ revision: 5, severity: 'critical', lastSeen: '2026-11-26T08:01:30.000Z' })),
      // Resolves.
      ...p.observe(
        alert({ revision: 6, severity: 'critical', status: 'resolved', lastSeen: '2026-11-26T08:02:00.000Z' }),
      ),
      ...p.observe(
        alert({ revision: 7, severity: 'critical', status: 'resolved', lastSeen: '2026-11-26T08:02:00.000Z' }),
      ),
    ];
    expect(out).toEqual([
      '[2026-11-26 08:00:30 UTC] ALERT WARNING dump: pg_dump of app by dba_alice',
      '    evidence: http://127.0.0.1:18080/alerts/ref-of-dump',
      '[2026-11-26 08:01:00 UTC] now CRITICAL (severity warning → critical) dump: pg_dump of app by dba_alice',
      '[2026-11-26 08:02:00 UTC] resolved dump: pg_dump of app by dba_alice',
    ]);
  });

  it('says how many alerts are already open at startup instead of reprinting them, then follows them', () => {
    const p = printer();
    const open = [
      alert({ id: 'a', severity: 'critical', revision: 3 }),
      alert({ id: 'b', revision: 1 }),
      alert({ id: 'c', revision: 2 }),
    ];
    expect(p.alreadyOpen(open, 'http://127.0.0.1:18080/alerts')).toEqual([
      '3 alerts are already open (1 critical, 2 warning), not reprinted: see http://127.0.0.1:18080/alerts',
    ]);
    // The detector re-publishes them after its restart, or updates them: nothing, until a rise or a resolution.
    expect(p.observe(alert({ id: 'a', severity: 'critical', revision: 3 }))).toEqual([]);
    expect(p.observe(alert({ id: 'a', severity: 'critical', revision: 4 }))).toEqual([]);
    expect(
      p.observe(alert({ id: 'b', revision: 2, status: 'resolved', lastSeen: '2026-11-26T08:05:00.000Z' })),
    ).toEqual(['[2026-11-26 08:05:00 UTC] resolved dump: pg_dump of app by dba_alice']);
    expect(p.observe(alert({ id: 'c', revision: 3, severity: 'critical' }))).toHaveLength(1);
    expect(printer().alreadyOpen([], 'http://x/alerts')).toEqual([
      'No alert open so far; new ones appear below and on http://x/alerts',
    ]);
    expect(printer().alreadyOpen([alert()], 'http://x/alerts')[0]).toMatch(/^1 alert is already open \(1 warning\)/);
  });

  it('marks catch-up alerts (events from the backlog, well before this start), not the ones happening now', () => {
    const p = printer();
    const old = p.observe(
      alert({ id: 'old', firstSeen: '2026-11-26T04:48:00.000Z', lastSeen: '2026-11-26T04:50:00.000Z' }),
    );
    expect(old[0]).toBe(
      '[2026-11-26 04:48:00 UTC] ALERT WARNING dump: pg_dump of app by dba_alice [catch-up: happened 3 h 10 min before this start]',
    );
    // Four minutes before the start: a session still going on when Vigie started, not catch-up.
    const recent = p.observe(alert({ id: 'recent', lastSeen: '2026-11-26T07:56:00.000Z' }));
    expect(recent[0]).not.toContain('catch-up');
    // Opened and closed within the backlog: printed once, as such.
    const closed = p.observe(
      alert({
        id: 'closed',
        status: 'resolved',
        firstSeen: '2026-11-24T08:00:00.000Z',
        lastSeen: '2026-11-24T08:00:00.000Z',
      }),
    );
    expect(closed[0]).toContain('(already resolved) [catch-up: happened 2 days 0 h before this start]');
    expect(closed[1]).toBe('    evidence: http://127.0.0.1:18080/alerts/ref-of-dump');
  });

  it('keeps terminal control sequences in alert text (role names, application names) from reaching the terminal', () => {
    expect(terminalSafe('dba\u001b[2J\u001b]0;owned\u0007 x')).toBe('dba?[2J?]0;owned? x');
    const lines = printer().observe(alert({ summary: 'read by "\u001b[31mevil\u001b[0m"' }));
    expect(lines[0]).toBe('[2026-11-26 08:00:30 UTC] ALERT WARNING dump: read by "?[31mevil?[0m"');
  });
});
