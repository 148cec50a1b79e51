import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { policyMain } from './policy-commands.js';

const dir = mkdtempSync(join(tmpdir(), 'vigie-policy-cmd-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const POLICY = join(dir, 'policy.yaml');
writeFileSync(
  POLICY,
  `clusters:
  - { name: prod, environment: production, replicas: ['192.0.2.12/32'] }
  - { name: preprod, environment: pre-production }
bastion: { networks: ['198.51.100.0/26', '2001:db8:100::/64'] }
businessHours:
  timezone: Europe/Paris
  days: [mon, tue, wed, thu, fri]
  start: '08:00'
  end: '19:00'
  holidays: ['2027-01-01']
personalData: { tables: ['public.citizens'] }
roles:
  service: ['app_*']
  generic: ['admin']
  human: ['dba_*', 'ext_*']
  privileged: ['dba_root']
  watchlist: ['ext_bob']
  vigie: ['vigie_collector']
response:
  never: ['breakglass_*']
  rules: { dump: { actions: [terminate, lock], lockFor: 1h } }
`,
);

/** Runs `vigie policy <args>` with a fixed clock and returns its exit code and lines. */
function policy(args: string[], env: Record<string, string> = {}): { code: number; lines: string[]; err: string } {
  const lines: string[] = [];
  const err: string[] = [];
  const now = () => Date.parse('2027-01-04T09:30:00Z'); // a Monday, 10:30 in Paris
  const code = policyMain(args, env, { out: (l) => lines.push(l), err: (l) => err.push(l) }, now);
  return { code, lines, err: err.join('\n') };
}

describe('vigie policy check', () => {
  it('prints what a valid policy was read as, exit 0', () => {
    const res = policy(['check', POLICY]);
    expect(res.code).toBe(0);
    expect(res.lines).toEqual([
      `ok      ${POLICY} (policy)`,
      '  clusters: prod (production, 1 replica network), preprod (pre-production, 0 replica networks)',
      '  bastion networks: 198.51.100.0/26, 2001:db8:100::/64',
      '  business hours: mon tue wed thu fri 08:00-19:00 Europe/Paris, 1 holiday',
      '  personal-data tables: public.citizens',
      '  roles: service 1, generic 1, human 2, privileged 1, watchlist 1, vigie 1',
      '  response: locks 4h by default (at most 7d), never breakglass_*, superusers refused, automatic: dump (terminate, lock)',
    ]);
  });

  it('lists every problem with its path, exit 2', () => {
    const bad = join(dir, 'bad.yaml');
    writeFileSync(
      bad,
      "clusters: [{ name: a, environment: prod }, { name: a, environment: production }]\nbastion: { networks: ['10.0.0.0/33'] }\nbusinessHours: { timezone: Mars/Olympus, start: '19:00', end: '08:00' }\n",
    );
    const res = policy(['check', bad]);
    expect(res.code).toBe(2);
    expect(res.lines[0]).toBe(`invalid ${bad} (policy): 5 problems`);
    expect(res.lines.slice(1)).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^ {2}- clusters\.0\.environment: expected .*"production".*, found "prod"$/),
        expect.stringMatching(/^ {2}- clusters: expected unique cluster names, found \[/),
        '  - bastion.networks.0: expected a CIDR such as 10.20.0.0/24 or fd00::/64, found "10.0.0.0/33"',
        '  - businessHours.timezone: expected an IANA time zone such as Europe/Paris, found "Mars/Olympus"',
        expect.stringMatching(/^ {2}- businessHours: expected start must be before end/),
      ]),
    );
  });

  it('needs exactly one file', () => {
    expect(policy(['check']).code).toBe(2);
    expect(policy(['check', POLICY, POLICY]).code).toBe(2);
    expect(policy(['verify']).err).toContain('unknown command "verify"');
  });
});

describe('vigie policy explain', () => {
  it('a watchlisted contractor from the bastion on a Saturday night', () => {
    const res = policy([
      'explain',
      '--policy',
      POLICY,
      '--role',
      'ext_bob',
      '--addr',
      '198.51.100.10',
      '--at',
      '2027-01-02T02:00:00Z',
    ]);
    expect(res.code).toBe(0);
    expect(res.lines).toEqual([
      `policy ${POLICY}, cluster prod (production)`,
      'role ext_bob',
      '  service account:      no',
      '  generic account:      no',
      '  named human:          yes (roles.human: ext_*)',
      '  watchlist:            yes (roles.watchlist: ext_bob)',
      "  Vigie's own account:  no",
      '  privileged:           not by the policy (roles.privileged)',
      expect.stringContaining("the detector adds what the cluster's catalog says"),
      'address 198.51.100.10',
      '  client class:         bastion (bastion.networks: 198.51.100.0/26)',
      '  replica host:         no',
      'time 2027-01-02T02:00:00.000Z = sat 2027-01-02 03:00 Europe/Paris',
      '  business hours:       no (sat is not a business day: mon tue wed thu fri)',
    ]);
  });

  it('a privileged DBA from outside the bastion during business hours; a replica host; a holiday', () => {
    const res = policy(['explain', '--policy', POLICY, '--role', 'dba_root', '--addr', '203.0.113.5', '--at', 'now']);
    expect(res.lines).toContain('  privileged:           yes by the policy (roles.privileged: dba_root)');
    expect(res.lines).toContain(
      '  client class:         non-bastion (not in bastion.networks: 198.51.100.0/26, 2001:db8:100::/64)',
    );
    expect(res.lines).toContain('  business hours:       yes (mon tue wed thu fri 08:00-19:00)');
    const replica = policy([
      'explain',
      '--policy',
      POLICY,
      '--role',
      'replicator',
      '--addr',
      '192.0.2.12',
      '--at',
      '2027-01-01T10:00:00+01:00',
    ]);
    expect(replica.lines).toContain(
      '  replica host:         yes (clusters.prod.replicas: 192.0.2.12/32): its walsender sessions are expected',
    );
    expect(replica.lines).toContain('  business hours:       no (2027-01-01 is a holiday (businessHours.holidays))');
    const evening = policy([
      'explain',
      '--policy',
      POLICY,
      '--role',
      'app_web',
      '--addr',
      '2001:db8:100::9',
      '--at',
      '2027-01-04T18:00:00Z',
    ]);
    expect(evening.lines).toContain('  service account:      yes (roles.service: app_*)');
    expect(evening.lines).toContain('  client class:         bastion (bastion.networks: 2001:db8:100::/64)');
    expect(evening.lines).toContain('  business hours:       no (at or after 19:00)');
  });

  it('takes the policy from VIGIE_POLICY and the cluster from --cluster', () => {
    const res = policy(['explain', '--role', 'admin', '--cluster', 'preprod', '--addr', 'local'], {
      VIGIE_POLICY: POLICY,
    });
    expect(res.code).toBe(0);
    expect(res.lines[0]).toBe(`policy ${POLICY}, cluster preprod (pre-production)`);
    expect(res.lines).toContain('  generic account:      yes (roles.generic: admin)');
    expect(res.lines).toContain('  client class:         local');
  });

  it('refuses bad arguments with exit 2 and says which', () => {
    const cases: [string[], string][] = [
      [['explain', '--policy', POLICY], '--role <role> is required'],
      [
        ['explain', '--policy', POLICY, '--role', 'a', '--addr', '10.0.0.300'],
        "--addr: expected an IPv4 or IPv6 address or 'local'",
      ],
      [
        ['explain', '--policy', POLICY, '--role', 'a', '--at', '2027-01-02 03:00'],
        '--at: expected an ISO 8601 time with its zone',
      ],
      [
        ['explain', '--policy', POLICY, '--role', 'a', '--at', '2027-01-02T03:00'],
        '--at: expected an ISO 8601 time with its zone',
      ],
      [['explain', '--policy', POLICY, '--role', 'a', '--cluster', 'nope'], '--cluster "nope" is not in'],
      [['explain', '--policy', POLICY, '--role', 'a', '--bogus'], "Unknown option '--bogus'"],
    ];
    for (const [args, message] of cases) {
      const res = policy(args);
      expect(res.code, args.join(' ')).toBe(2);
      expect(res.err).toContain(message);
    }
    const missing = policy(['explain', '--policy', join(dir, 'none.yaml'), '--role', 'a']);
    expect(missing.code).toBe(2);
    expect(missing.lines).toEqual([
      `invalid ${join(dir, 'none.yaml')} (policy): 1 problem`,
      '  - (root): expected a readable YAML file, found ENOENT',
    ]);
  });
});
