import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '@vigie/runtime';
import { describe, expect, it } from 'vitest';
import { compilePolicy } from './compiled.js';
import { DEFAULT_POLICY_FILE, loadPolicy, loadSitePolicy, policyFileFrom } from './load.js';
import { networkMatcher, tableMatcher } from './match.js';
import { policyWarnings } from './warnings.js';

function file(text: string): string {
  const f = join(mkdtempSync(join(tmpdir(), 'vigie-policy-')), 'policy.yaml');
  writeFileSync(f, text);
  return f;
}

// The shape the detector issue says a site must be able to write, verbatim.
const ISSUE_SHAPE = `
clusters:
  - name: local
    environment: production          # or pre-production
bastion:
  networks: ["10.20.0.0/24", "127.0.0.2/32"]   # IPv4 and IPv6 CIDRs
businessHours:
  timezone: Europe/Paris
  days: [mon, tue, wed, thu, fri]
  start: "08:00"
  end: "19:00"
  holidays: ["2026-12-25"]
personalData:
  tables: ["public.citizens", "social.*"]
roles:
  service: ["app_*"]                  # service accounts (patterns)
  generic: ["postgres", "admin"]
`;

describe('site policy', () => {
  it('accepts the documented shape and compiles it', () => {
    const p = compilePolicy(loadPolicy(file(ISSUE_SHAPE)));
    expect(p.environmentOf('local')).toBe('production');
    expect(p.clientClass('10.20.0.77')).toBe('bastion');
    expect(p.clientClass('127.0.0.2')).toBe('bastion');
    expect(p.clientClass('::ffff:127.0.0.2')).toBe('bastion');
    expect(p.clientClass('127.0.0.3')).toBe('non-bastion');
    expect(p.clientClass('local')).toBe('local');
    expect(p.clientClass(undefined)).toBe('unknown');
    expect(p.isPersonalDataTable('public.citizens')).toBe(true);
    expect(p.isPersonalDataTable('citizens')).toBe(true);
    expect(p.isPersonalDataTable('social.payments')).toBe(true);
    expect(p.isPersonalDataTable('public.pgbench_accounts')).toBe(false);
    expect(p.isServiceAccount('app_backend')).toBe(true);
    expect(p.isServiceAccount('dba_alice')).toBe(false);
    expect(p.isGenericAccount('ADMIN')).toBe(true);
    expect(p.policy.businessHours.holidays).toEqual(['2026-12-25']);
  });

  it('loads the shipped default policy', () => {
    expect(loadPolicy(DEFAULT_POLICY_FILE).clusters[0]?.name).toBe('local');
    expect(policyFileFrom(undefined, {})).toBe(DEFAULT_POLICY_FILE);
    expect(policyFileFrom(undefined, { VIGIE_POLICY: '/etc/vigie/policy.yaml' })).toBe('/etc/vigie/policy.yaml');
    expect(policyFileFrom('/x.yaml', { VIGIE_POLICY: '/etc/vigie/policy.yaml' })).toBe('/x.yaml');
  });

  it('loads the policy an entry point runs with: --policy, else VIGIE_POLICY, else the shipped one, compiled', () => {
    const named = file(`
clusters:
  - name: named
    environment: production
`);
    const fromEnv = file(`
clusters:
  - name: from-env
    environment: pre-production
`);
    expect(loadSitePolicy(named, { VIGIE_POLICY: fromEnv }).policy.clusters[0]?.name).toBe('named');
    const env = loadSitePolicy(undefined, { VIGIE_POLICY: fromEnv });
    expect(env.environmentOf('from-env')).toBe('pre-production');
    expect(loadSitePolicy(undefined, {}).policy.clusters[0]?.name).toBe('local');
    expect(() => loadSitePolicy(join(tmpdir(), 'no-such-policy.yaml'), {})).toThrow();
  });

  it('lists every problem of a bad policy', () => {
    const bad = file(`
clusters:
  - name: a
    environment: staging
  - name: a
    environment: production
bastion:
  networks: ["10.20.0.0/33", "not-a-network"]
businessHours:
  timezone: Mars/Olympus
  start: "19:00"
  end: "08:00"
`);
    let error: ConfigError | undefined;
    try {
      loadPolicy(bad);
    } catch (e) {
      error = e as ConfigError;
    }
    const paths = error?.problems.map((p) => p.path).sort();
    expect(paths).toEqual([
      'bastion.networks.0',
      'bastion.networks.1',
      'businessHours',
      'businessHours.timezone',
      'clusters',
      'clusters.0.environment',
    ]);
  });
});

describe('a policy of the wrong shape', () => {
  const ONE = 'clusters: [{ name: a, environment: production }]\n';
  // Each: the file, the problem paths it must list. Any other outcome (TypeError, success) is a failure.
  it.each([
    ['clusters: a number', 'clusters: 3\n', ['clusters']],
    ['clusters: a map', 'clusters: { a: { environment: production } }\n', ['clusters']],
    ['clusters: a string', 'clusters: local\n', ['clusters']],
    ['clusters: null', 'clusters:\n', ['clusters']],
    ['clusters: a list of scalars', 'clusters: [a, 3]\n', ['clusters.0', 'clusters.1']],
    ['clusters: a list with null', 'clusters: [~, { name: a, environment: production }]\n', ['clusters.0']],
    ['roles: a string', `${ONE}roles: dba_alice\n`, ['roles']],
    ['roles.service: a string', `${ONE}roles: { service: app_backend }\n`, ['roles.service']],
    ['roles: a list', `${ONE}roles: [app_backend]\n`, ['roles']],
    ['bastion: a list where a map is expected', `${ONE}bastion: ['10.0.0.0/8']\n`, ['bastion']],
    ['bastion.networks: a string', `${ONE}bastion: { networks: 10.0.0.0/8 }\n`, ['bastion.networks']],
    ['businessHours: a list', `${ONE}businessHours: [mon]\n`, ['businessHours']],
    ['businessHours: a number', `${ONE}businessHours: 8\n`, ['businessHours']],
    [
      'businessHours.start: a number',
      `${ONE}businessHours: { start: 8, end: 9 }\n`,
      ['businessHours.end', 'businessHours.start'],
    ],
    ['personalData: a string', `${ONE}personalData: citizens\n`, ['personalData']],
    ['replication: a number', `${ONE}replication: 1\n`, ['replication']],
    ['an empty file', '', ['clusters']],
    ['a file of comments only', '# nothing yet\n', ['clusters']],
    ['a mapping with nothing Vigie knows', 'cluster: local\n', ['clusters']],
  ])('%s: lists the problems (ConfigError, exit 2), no TypeError', (_what, text, paths) => {
    let error: unknown;
    try {
      loadPolicy(file(text));
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems.map((p) => p.path).sort()).toEqual(paths);
  });

  it.each([
    ['a scalar', 'production\n', 'a YAML mapping'],
    ['a number', '3\n', 'a YAML mapping'],
    ['a list', '- name: a\n  environment: production\n', 'a YAML mapping'],
  ])('a YAML document that is %s: one problem at the root', (_what, text, expected) => {
    let error: unknown;
    try {
      loadPolicy(file(text));
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems).toEqual([expect.objectContaining({ path: '', expected })]);
  });
});

describe('business hours bounds', () => {
  it('reads the response block: defaults dry and manual, every problem listed', () => {
    const p = compilePolicy(loadPolicy(file(ISSUE_SHAPE)));
    expect(p.policy.response).toEqual({ never: [], allowSuperuser: false, lockFor: '4h', maxLockFor: '7d', rules: {} });
    const tuned = compilePolicy(
      loadPolicy(
        file(`${ISSUE_SHAPE}  vigie: [vigie_*]
response:
  never: [breakglass_*]
  lockFor: 30m
  rules:
    dump: { actions: [terminate, lock], lockFor: 2h }
`),
      ),
    );
    expect(tuned.policy.response.rules).toEqual({ dump: { actions: ['terminate', 'lock'], lockFor: '2h' } });
    expect(['breakglass_ops', 'vigie_responder', 'dba_alice'].map((r) => tuned.isResponseExempt(r))).toEqual([
      true,
      true,
      false,
    ]);
    let error: ConfigError | undefined;
    try {
      loadPolicy(
        file(`${ISSUE_SHAPE}response:
  rules:
    dump: { actions: [kill], lockFor: 4 hours }
    bulk-read: { actions: [] , extra: 1 }
`),
      );
    } catch (e) {
      error = e as ConfigError;
    }
    expect(error?.problems.map((p) => p.path).sort()).toEqual([
      'response.rules.bulk-read',
      'response.rules.bulk-read.actions',
      'response.rules.dump.actions.0',
      'response.rules.dump.lockFor',
    ]);
    expect(() => loadPolicy(file(`${ISSUE_SHAPE}response: { lockFor: 8d }\n`))).toThrow(
      /lockFor must not exceed maxLockFor/,
    );
  });

  it('accepts 24:00 as an end and refuses it as a start', () => {
    const policy = (start: string, end: string) =>
      file(`clusters: [{ name: a, environment: production }]\nbusinessHours: { start: "${start}", end: "${end}" }\n`);
    expect(loadPolicy(policy('00:00', '24:00')).businessHours.end).toBe('24:00');
    expect(() => loadPolicy(policy('24:00', '24:00'))).toThrow(/businessHours\.start/);
    expect(() => loadPolicy(policy('00:00', '24:30'))).toThrow(/businessHours\.end/);
  });
});

describe('matchers', () => {
  it('bastion exceptions: by login role and client network, until their expiry; expired ones are named', () => {
    const raw = loadPolicy(file(`${ISSUE_SHAPE}  watchlist: [ext_bob]\n`));
    const policy = {
      ...raw,
      bastion: {
        ...raw.bastion,
        exceptions: [
          { name: 'CHG-1 migration', networks: ['10.30.0.0/24'], roles: ['dba_*'], expires: '2026-11-30' },
          {
            name: 'CHG-2 renewed',
            networks: ['10.30.0.0/24'],
            roles: ['dba_alice'],
            expires: '2027-01-15T18:00:00+01:00',
          },
          { name: 'CHG-3 anyone', networks: ['10.40.0.7/32'], expires: '2026-12-01' },
        ],
      },
    };
    const p = compilePolicy(policy);
    const at = (iso: string) => Date.parse(iso);
    expect(p.bastionException('dba_bob', '10.30.0.9', at('2026-11-30T23:59:59Z'))).toEqual({
      name: 'CHG-1 migration',
      expiresMs: at('2026-12-01T00:00:00Z'),
      expired: false,
    });
    expect(p.bastionException('dba_bob', '10.30.0.9', at('2026-12-01T00:00:00Z'))?.expired).toBe(true);
    // A live exception wins over an expired one that also matches.
    expect(p.bastionException('dba_alice', '10.30.0.9', at('2026-12-10T00:00:00Z'))?.name).toBe('CHG-2 renewed');
    expect(p.bastionException('dba_alice', '10.30.0.9', at('2027-01-15T17:00:00Z'))?.expired).toBe(true);
    expect(p.bastionException('contractor', '10.30.0.9', at('2026-11-01T00:00:00Z'))).toBeUndefined();
    expect(p.bastionException('dba_bob', '10.30.1.9', at('2026-11-01T00:00:00Z'))).toBeUndefined();
    expect(p.bastionException('anyone_at_all', '10.40.0.7', at('2026-11-01T00:00:00Z'))?.name).toBe('CHG-3 anyone');
    expect(p.isWatchlisted('EXT_BOB')).toBe(true);
    expect(policyWarnings(policy, at('2026-12-05T00:00:00Z'))).toEqual([
      'bastion.exceptions.0 (CHG-1 migration): expired on 2026-11-30, it no longer exempts anyone; remove it or renew it',
      'bastion.exceptions.2 (CHG-3 anyone): expired on 2026-12-01, it no longer exempts anyone; remove it or renew it',
    ]);
    expect(policyWarnings(policy, at('2026-11-01T00:00:00Z'))).toEqual([]);
  });

  it('refuses a bastion exception without a network or an expiry, or with a bad date', () => {
    const f = file(
      `${ISSUE_SHAPE.replace(
        'bastion:\n  networks: ["10.20.0.0/24", "127.0.0.2/32"]   # IPv4 and IPv6 CIDRs',
        `bastion:
  networks: ["10.20.0.0/24"]
  exceptions:
    - { name: a, networks: [] , expires: '2026-12-01' }
    - { name: b, networks: ['10.0.0.0/8'] }
    - { name: c, networks: ['10.0.0.0/8'], expires: 'next friday' }`,
      )}`,
    );
    let problems: string[] = [];
    try {
      loadPolicy(f);
    } catch (e) {
      problems = (e as ConfigError).problems.map((p) => p.path);
    }
    expect(problems.sort()).toEqual(
      ['bastion.exceptions.0.networks', 'bastion.exceptions.1.expires', 'bastion.exceptions.2.expires'].sort(),
    );
  });

  it('matches IPv6 networks', () => {
    const m = networkMatcher(['fd00:20::/64', '::1/128']);
    expect(m('fd00:20::17')).toBe(true);
    expect(m('fd00:21::17')).toBe(false);
    expect(m('::1')).toBe(true);
    expect(m('not an ip')).toBe(false);
  });
  it('treats pattern metacharacters literally except *', () => {
    const t = tableMatcher(['social.*', 'public.a+b']);
    expect(t('social.x')).toBe(true);
    expect(t('socialxpayments')).toBe(false);
    expect(t('public.a+b')).toBe(true);
    expect(t('public.aab')).toBe(false);
  });
});
