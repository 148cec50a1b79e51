import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ConfigError } from '@vigie/runtime';
import { describe, expect, it } from 'vitest';
import { loadRules, mergeParams } from './load.js';

function site(text: string): string {
  const f = join(mkdtempSync(join(tmpdir(), 'vigie-site-rules-')), 'rules.yaml');
  writeFileSync(f, text);
  return f;
}

function problems(fn: () => unknown): string[] {
  try {
    fn();
  } catch (e) {
    return (e as ConfigError).problems.map((p) => `${p.path}: ${p.expected}`);
  }
  return [];
}

describe('loadRules', () => {
  it('loads the shipped rules, dump first', () => {
    const set = loadRules();
    expect(set.rules.map((r) => r.id)).toEqual([
      'dump',
      'audit-tampering',
      'auth-brute-force',
      'bastion-bypass',
      'bulk-read',
      'collector-silent',
      'dormant-account-login',
      'forged-audit-record',
      'generic-account-interactive',
      'mass-write',
      'non-bastion-egress',
      'off-hours-privileged-session',
      'personal-data-in-preprod',
      'privilege-escalation',
      'replication-slot-risk',
      'server-file-access',
      'vigie-account-misuse',
      'watchlist-session',
    ]);
    for (const r of set.rules) {
      expect(r.description.length).toBeGreaterThan(100);
      expect(r.tags.some((t) => /^T\d{4}/.test(t))).toBe(true);
    }
  });

  it('applies a site file: disable, severity, params merged key by key, exceptions appended, new rules', () => {
    const set = loadRules({
      siteFile: site(`
overrides:
  - id: non-bastion-egress
    enabled: false
  - id: off-hours-privileged-session
    severity: critical
  - id: bulk-read
    params: { rowsPerStatement: 500 }
    exceptions: [{ name: 'reporting', roles: [report_*] }]
rules:
  - id: bulk-read-watchlist
    title: Watchlisted staff reading personal data
    description: Any whole-table read by staff about to leave; tune with the policy's roles.watchlist.
    severity: critical
    type: bulk-read
    filters: { roles: [leaver_*] }
`),
    });
    expect(set.disabled).toEqual(['non-bastion-egress']);
    expect(set.rules.map((r) => [r.id, r.severity])).toEqual([
      ['dump', 'warning'],
      ['audit-tampering', 'critical'],
      ['auth-brute-force', 'warning'],
      ['bastion-bypass', 'warning'],
      ['bulk-read', 'warning'],
      ['collector-silent', 'critical'],
      ['dormant-account-login', 'warning'],
      ['forged-audit-record', 'critical'],
      ['generic-account-interactive', 'warning'],
      ['mass-write', 'warning'],
      ['off-hours-privileged-session', 'critical'],
      ['personal-data-in-preprod', 'critical'],
      ['privilege-escalation', 'critical'],
      ['replication-slot-risk', 'critical'],
      ['server-file-access', 'warning'],
      ['vigie-account-misuse', 'critical'],
      ['watchlist-session', 'info'],
      ['bulk-read-watchlist', 'critical'],
    ]);
    const bulk = set.rules.find((r) => r.id === 'bulk-read');
    const subject = { v: 1, id: 'x', kind: 'session.start', cluster: 'local', ts: '2026-11-26T10:00:00.000Z' } as const;
    expect(bulk?.accepts({ login: 'report_daily', clientClass: 'non-bastion' } as never, subject)).toBe(false);
    expect(bulk?.accepts({ login: 'dba_alice', clientClass: 'non-bastion' } as never, subject)).toBe(true);
  });

  it('places an egress sample with no session by its peer address, through the engine-given classifier', () => {
    const set = loadRules();
    const egress = set.rules.find((r) => r.id === 'non-bastion-egress');
    const sample = {
      v: 1,
      id: 'x',
      kind: 'egress.sample',
      cluster: 'local',
      ts: '2026-11-26T10:00:00.000Z',
      transport: 'tcp',
      bytesSent: 1,
      bytesSentDelta: 1,
      final: true,
      peer: { addr: '127.0.0.2', port: 5000 },
    } as const;
    const classify = (addr: string | undefined): 'bastion' | 'non-bastion' =>
      addr === '127.0.0.2' ? 'bastion' : 'non-bastion';
    expect(egress?.accepts(undefined, sample, classify)).toBe(false);
    expect(egress?.accepts(undefined, { ...sample, peer: { addr: '127.0.0.9', port: 5000 } }, classify)).toBe(true);
  });

  it('merges watchlist parameters block by block over params, and validates them with the rule type', () => {
    expect(
      mergeParams(
        { rowsPerStatement: 10_000, sessionRows: { threshold: 50_000, windowMinutes: 10 }, hosts: ['a', 'b'] },
        { sessionRows: { threshold: 5_000 }, hosts: ['c'] },
      ),
    ).toEqual({ rowsPerStatement: 10_000, sessionRows: { threshold: 5_000, windowMinutes: 10 }, hosts: ['c'] });
    const found = problems(() =>
      loadRules({
        siteFile: site(`
overrides:
  - id: bulk-read
    watchlist: { enumeration: { perSession: { threshold: 0 } } }
  - id: dump
    watchlist: { minStep: 2 }
`),
      }),
    );
    expect(found.map((p) => p.split(':')[0]).sort()).toEqual(
      ['bulk-read.watchlist.enumeration.perSession.threshold', 'dump.watchlist'].sort(),
    );
  });

  it('lists every problem of a bad site file with its path', () => {
    const found = problems(() =>
      loadRules({
        siteFile: site(`
overrides:
  - id: no-such-rule
    enabled: false
  - id: bulk-read
    exceptions: [{ clients: ['10.0.0.0/33'] }]
  - id: bulk-read
    params: { rowsPerStatement: -3, typo: 1 }
rules:
  - id: dump
    title: again
    description: a rule with the id of a shipped rule must be refused
    severity: warning
    type: dump-signature
`),
      }),
    );
    expect(found.map((p) => p.split(':')[0]).sort()).toEqual(
      [
        'bulk-read.params.rowsPerStatement',
        'bulk-read.params',
        'overrides.0.id',
        'overrides.1.exceptions.0.clients.0',
        'rules.0.id',
      ].sort(),
    );
  });
});
