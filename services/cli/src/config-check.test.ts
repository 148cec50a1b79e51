import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { configMain, inlineSecrets, recogniseKind, unknownSettings } from './config-check.js';

const dir = mkdtempSync(join(tmpdir(), 'vigie-config-check-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

/** Runs `vigie config check <args>` and returns its exit code and every line it printed. */
function check(args: string[], env: Record<string, string> = {}): { code: number; lines: string[]; err: string[] } {
  const lines: string[] = [];
  const err: string[] = [];
  const code = configMain(['check', ...args], env, { out: (l) => lines.push(l), err: (l) => err.push(l) });
  return { code, lines, err };
}

const TOKEN = 'a-token-of-at-least-16-chars';

describe('vigie config check', () => {
  it('accepts valid files of each kind, recognised by name or by their settings, exit 0', () => {
    const pglog = file('collector-pglog.yaml', 'source: { logDirectory: /var/log/postgresql/audit }\n');
    const repl = file('site-a.yaml', 'slot: vigie_slot\npublication: vigie_pub\n');
    const policy = file('site-policy.yml', 'clusters: [{ name: a, environment: production }]\n');
    const res = check([pglog, repl, policy]);
    expect(res.lines).toEqual([
      `ok      ${pglog} (collector-pglog)`,
      `ok      ${repl} (collector-replication)`,
      `ok      ${policy} (policy)`,
    ]);
    expect(res.code).toBe(0);
  });

  it('lists every problem with its path, as the service would at startup, exit 2', () => {
    const bad = file(
      'detector.yaml',
      'profile: production\nhttp: { port: 70000 }\napi: { allowAnonymous: true }\nkafka: { brokers: [] }\n',
    );
    const res = check([bad]);
    expect(res.code).toBe(2);
    expect(res.lines[0]).toBe(`invalid ${bad} (detector): 5 problems`);
    expect(res.lines).toHaveLength(6);
    expect(res.lines.slice(1)).toEqual(
      expect.arrayContaining([
        '  - api.allowAnonymous: expected false with profile: production (anonymous access to evidence is for a laptop: profile: local), found true',
        expect.stringMatching(/^ {2}- http\.port: expected .*65535.*, found 70000$/),
        expect.stringMatching(/^ {2}- kafka\.brokers: expected .*, found \[\]$/),
        expect.stringMatching(/^ {2}- store\.connectionString: expected the alert store's connection/),
        expect.stringMatching(/^ {2}- privileged\.connectionString: expected a connection to the monitored cluster/),
      ]),
    );
  });

  it('reads secrets from --env-file and the environment, never prints them', () => {
    const detector = file('detector.yaml', 'profile: production\nstore: {}\nprivileged: { connectionString: "" }\n');
    const envFile = file(
      'detector.env',
      `# comment\nVIGIE_API__TOKEN="${TOKEN}"\nVIGIE_STORE__CONNECTION_STRING=postgresql://vigie_detector:s3cret-pw@192.0.2.31/vigie\n`,
    );
    expect(check([detector]).code).toBe(2);
    const res = check(['--env-file', envFile, detector]);
    expect(res.lines).toEqual([`ok      ${detector} (detector)`]);
    expect(res.code).toBe(0);
    // An empty value in the environment file is what the service gets: refused, and the value stays hidden.
    const empty = file('empty.env', 'VIGIE_API__TOKEN=\n');
    const refused = check(['--env-file', empty, '--env-file', envFile, detector]);
    expect(refused.code).toBe(0); // the later file wins, as with two EnvironmentFile= lines
    const alone = check(['--env-file', empty, detector], { VIGIE_STORE__CONNECTION_STRING: 'postgresql://u:pw@h/db' });
    expect(alone.code).toBe(2);
    expect(alone.lines).toContain('  - api.token: expected a token of at least 16 characters, found <hidden>');
    expect(alone.lines.join('\n')).not.toContain('pw@');
  });

  it("checks the detector's site rule file as the detector loads it", () => {
    const rules = file('site-rules.yaml', 'overrides:\n  - { id: no-such-rule, enabled: false }\n');
    const detector = file(
      'detector.yaml',
      `profile: local\napi: { token: ${TOKEN} }\nengine: { rulesFile: ${JSON.stringify(rules)} }\n`,
    );
    const res = check([detector]);
    expect(res.code).toBe(2);
    expect(res.lines[0]).toBe(`invalid ${detector} (detector): 1 problem`);
    expect(res.lines[1]).toMatch(
      new RegExp(
        `^ {2}- engine\\.rulesFile \\(${rules.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}\\): overrides\\.0\\.id: expected a shipped rule id \\(.*\\), found no-such-rule$`,
      ),
    );
    writeFileSync(rules, 'overrides:\n  - { id: dump, enabled: false }\n');
    const fixed = check([detector]);
    expect(fixed.lines[0]).toBe(`ok      ${detector} (detector)`);
    expect(fixed.code).toBe(0);
  });

  it('warns about unknown settings and secrets written in the file; --strict makes them fail', () => {
    const typo = file(
      'collector-egress.yaml',
      'postgres: { host: 127.0.0.1, pasword: x, password: inline-secret }\nkafak: { brokers: [k:9092] }\n',
    );
    const res = check([typo]);
    expect(res.code).toBe(0);
    expect(res.lines).toEqual([
      `ok      ${typo} (collector-egress)`,
      '  warning: postgres.pasword: unknown setting, ignored by collector-egress (a typo keeps the default)',
      '  warning: kafak: unknown setting, ignored by collector-egress (a typo keeps the default)',
      '  warning: postgres.password: a secret written in the file; give it in the environment file (VIGIE_…) or a file it names',
    ]);
    expect(res.lines.join('\n')).not.toContain('inline-secret');
    expect(check(['--strict', typo]).code).toBe(2);
  });

  it('warns about a bastion exception of the policy that has expired (valid, but it exempts nobody)', () => {
    const policy = file(
      'policy.yaml',
      `clusters: [{ name: a, environment: production }]
bastion:
  networks: [10.20.0.0/24]
  exceptions:
    - { name: CHG-1 migration, networks: [10.30.0.0/24], expires: '2001-01-31' }
    - { name: CHG-2 future, networks: [10.30.0.0/24], expires: '2999-12-31' }
`,
    );
    const res = check([policy]);
    expect(res.code).toBe(0);
    expect(res.lines).toEqual([
      `ok      ${policy} (policy)`,
      '  warning: bastion.exceptions.0 (CHG-1 migration): expired on 2001-01-31, it no longer exempts anyone; remove it or renew it',
    ]);
    expect(check(['--strict', policy]).code).toBe(2);
  });

  it('says when it cannot tell which service a file is for, and --service decides', () => {
    const vague = file('site.yaml', 'kafka: { brokers: [k:9092] }\n');
    const res = check([vague]);
    expect(res.code).toBe(2);
    expect(res.lines[0]).toBe(`invalid ${vague} (unknown kind): 1 problem`);
    expect(res.lines[1]).toContain('pass --service <name>');
    expect(check(['--service', 'collector-replication', vague]).lines).toEqual([
      `ok      ${vague} (collector-replication)`,
    ]);
  });

  it('reports unreadable files, bad YAML and bad usage with exit 2', () => {
    const missing = join(dir, 'nope', 'detector.yaml');
    expect(check([missing]).lines).toEqual([
      `invalid ${missing} (unknown kind): 1 problem`,
      '  - (root): expected a readable YAML file, found ENOENT',
    ]);
    const broken = file('collector-pglog.yml', 'source: [\n');
    const res = check([broken]);
    expect(res.code).toBe(2);
    expect(res.lines[1]).toMatch(/^ {2}- \(root\): expected valid YAML, found a syntax error at line \d+/);
    expect(check([]).code).toBe(2);
    expect(check(['--service', 'nginx', broken]).err[0]).toContain('unknown --service "nginx"');
    expect(configMain(['lint'], {}, { out: () => undefined, err: () => undefined })).toBe(2);
  });
});

describe('recognising a file', () => {
  it.each([
    ['collector-pglog.yaml', {}, 'collector-pglog'],
    ['db1-collector-egress.yml', {}, 'collector-egress'],
    ['x.yaml', { checkpoint: {} }, 'collector-pglog'],
    ['x.yaml', { serverPort: 5432 }, 'collector-egress'],
    ['x.yaml', { api: {} }, 'detector'],
    ['x.yaml', { bastion: {} }, 'policy'],
    ['x.yaml', { kafka: {} }, undefined],
    ['x.yaml', { api: {}, slot: 'a' }, undefined],
  ] as const)('%s with %j is %s', (name, raw, kind) => {
    expect(recogniseKind(`/etc/vigie/${name}`, raw)).toBe(kind);
  });

  it('finds unknown settings at any depth, and secrets by name or in a connection string', () => {
    expect(unknownSettings({ a: 1, b: { c: 2, d: [{ e: 1, f: 2 }] } }, { a: 1, b: { c: 2, d: [{ e: 1 }] } })).toEqual([
      'b.d.0.f',
    ]);
    expect(
      inlineSecrets({
        kafka: { sasl: { passwordFile: '/etc/x' }, ssl: { keyFile: '/k' } },
        store: { connectionString: 'postgresql://u:pw@h/db', other: 'postgresql://u@h/db' },
        api: { token: 'abc' },
      }),
    ).toEqual(['store.connectionString', 'api.token']);
  });
});
