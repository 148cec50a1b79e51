import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { BlockList } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { checkConfigFile, configMain, readEnvFile } from '@vigie/cli';
import { EgressConfig } from '@vigie/collector-egress';
import { CollectorPglogConfig } from '@vigie/collector-pglog';
import { ReplicationConfig } from '@vigie/collector-replication';
import { DetectorConfig } from '@vigie/detector';
import { compilePolicy, isBusinessTime, loadPolicy } from '@vigie/policy';
import { loadConfig } from '@vigie/runtime';
import { REPO_ROOT } from '@vigie/testkit';

const run = promisify(execFile);
const SITE = join(REPO_ROOT, 'deploy/site-example');

/** The schema each service's main.ts loads its file with (through loadConfig, as below). */
const SCHEMAS: Record<string, z.ZodType> = {
  'collector-pglog': CollectorPglogConfig,
  'collector-replication': ReplicationConfig,
  'collector-egress': EgressConfig,
  detector: DetectorConfig,
};

/** Every service configuration of the example site, host by host, with its environment file. */
const CONFIGS = ['db1', 'db2', 'vigie1'].flatMap((host) =>
  readdirSync(join(SITE, host))
    .filter((f) => f.endsWith('.yaml'))
    .map((f) => ({
      host,
      service: basename(f, '.yaml'),
      file: join(SITE, host, f),
      envFile: join(SITE, host, f.replace(/\.yaml$/, '.env')),
    })),
);

/** What a site writes into the environment files: a value for every variable the example names. */
function filledEnv(envFile: string): Record<string, string> {
  const secret = randomBytes(18).toString('hex');
  return Object.fromEntries(
    Object.keys(readEnvFile(envFile)).map((name) => [
      name,
      name === 'VIGIE_STORE__CONNECTION_STRING'
        ? `postgresql://vigie_detector:${secret}@192.0.2.31:5432/vigie`
        : name === 'VIGIE_PRIVILEGED__CONNECTION_STRING'
          ? `postgresql://vigie_catalog:${secret}@192.0.2.11:5432/postgres`
          : secret,
    ]),
  );
}

async function tool(cmd: string, args: string[]): Promise<{ code: number; out: string }> {
  try {
    const { stdout, stderr } = await run(cmd, args);
    return { code: 0, out: stdout + stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : 1, out: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

// promtool and amtool come with the stack's Debian packages (the integration project's global setup installs them):
// an integration test although nothing here is contacted — the example's addresses are documentation ranges.
describe('deploy/site-example', () => {
  const work = mkdtempSync(join(tmpdir(), 'vigie-site-'));
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it('configures the four services: collectors on both database hosts, replication on the primary', () => {
    expect(CONFIGS.map((c) => `${c.host}/${c.service}`).sort()).toEqual([
      'db1/collector-egress',
      'db1/collector-pglog',
      'db1/collector-replication',
      'db2/collector-egress',
      'db2/collector-pglog',
      'vigie1/detector',
    ]);
  });

  it.each(CONFIGS)('$host/$service.yaml loads with its service schema once its environment file is filled in', (c) => {
    const schema = SCHEMAS[c.service] as z.ZodType;
    const config = loadConfig(schema, { file: c.file, env: filledEnv(c.envFile) }) as {
      cluster: string;
      kafka: { sasl?: { username: string }; ssl?: unknown; topics: { allowUnsafe: boolean } };
    };
    expect(config.cluster).toBe('social-prod');
    expect(config.kafka.sasl?.username).toBe(`vigie-${c.service}`);
    expect(config.kafka.ssl).toBeDefined();
    expect(config.kafka.topics.allowUnsafe).toBe(false);
    // The CLI's check agrees, and finds nothing the service would silently ignore and no secret in the file.
    const check = checkConfigFile(c.file, filledEnv(c.envFile));
    expect(check).toMatchObject({ kind: c.service, problems: [], warnings: [] });
  });

  it.each(CONFIGS)('$host/$service.env commits no secret, and every variable it names is needed', (c) => {
    const names = readEnvFile(c.envFile);
    expect(Object.values(names).every((v) => v === '')).toBe(true);
    // As shipped (every value empty) the configuration is refused, one problem per secret at least.
    const lines: string[] = [];
    const code = configMain(
      ['check', '--env-file', c.envFile, c.file],
      {},
      {
        out: (l) => lines.push(l),
        err: (l) => lines.push(l),
      },
    );
    expect(code).toBe(2);
    expect(lines[0]).toMatch(/^invalid .* problems?$/);
    expect(lines.some((l) => l.includes('<hidden>'))).toBe(true);
  });

  it('detector.yaml is a production configuration', () => {
    const c = CONFIGS.find((x) => x.service === 'detector');
    const config = loadConfig(DetectorConfig, { file: c?.file, env: filledEnv(c?.envFile ?? '') });
    expect(config.profile).toBe('production');
    expect(config.api.allowAnonymous).toBe(false);
    expect(config.collectors.expected).toHaveLength(5);
  });

  it('the policy loads with the policy loader and classifies the site as described', () => {
    const policy = compilePolicy(loadPolicy(join(SITE, 'policy.yaml')));
    expect(policy.environmentOf('social-prod')).toBe('production');
    expect(policy.clientClass('198.51.100.10')).toBe('bastion');
    expect(policy.clientClass('2001:db8:100::7')).toBe('bastion');
    expect(policy.clientClass('203.0.113.50')).toBe('non-bastion');
    expect(policy.isReplicaHost('social-prod', '192.0.2.12')).toBe(true);
    expect(policy.isReplicaHost('social-prod', '192.0.2.13')).toBe(false);
    expect(policy.isWatchlisted('ext_bob')).toBe(true);
    expect(policy.isVigieAccount('vigie_collector')).toBe(true);
    // Saturday 2027-01-02 10:00 Paris; Monday 2027-01-04 10:00 Paris; Friday 2027-01-01 is a holiday.
    expect(isBusinessTime(policy.policy, Date.parse('2027-01-02T09:00:00Z'))).toBe(false);
    expect(isBusinessTime(policy.policy, Date.parse('2027-01-04T09:00:00Z'))).toBe(true);
    expect(isBusinessTime(policy.policy, Date.parse('2027-01-01T09:00:00Z'))).toBe(false);
  });

  it('names only documentation addresses (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24, 2001:db8::/32)', () => {
    const docs = new BlockList();
    docs.addSubnet('192.0.2.0', 24, 'ipv4');
    docs.addSubnet('198.51.100.0', 24, 'ipv4');
    docs.addSubnet('203.0.113.0', 24, 'ipv4');
    docs.addSubnet('127.0.0.0', 8, 'ipv4');
    docs.addSubnet('2001:db8::', 32, 'ipv6');
    const files = readdirSync(SITE, { recursive: true, encoding: 'utf8' }).filter((f) => /\.(ya?ml|env|md)$/.test(f));
    const seen: string[] = [];
    for (const f of files) {
      const text = readFileSync(join(SITE, f), 'utf8');
      for (const m of text.matchAll(/\b(\d{1,3}(?:\.\d{1,3}){3})\b/g)) {
        seen.push(m[1] as string);
        expect(docs.check(m[1] as string, 'ipv4'), `${f}: ${m[1]}`).toBe(true);
      }
      for (const m of text.matchAll(/\b([0-9a-f]{1,4}(?::[0-9a-f]{0,4}){2,7})\/\d{1,3}/gi)) {
        seen.push(m[1] as string);
        expect(docs.check(m[1] as string, 'ipv6'), `${f}: ${m[1]}`).toBe(true);
      }
      for (const m of text.matchAll(/[\w.-]+\.(?:org|com|net|fr)\b/g)) {
        expect(m[0], `${f}: host names under example.org only`).toMatch(/(^|\.)example\.org$/);
      }
    }
    expect(seen.length).toBeGreaterThan(10);
  });

  it("passes promtool check config with Vigie's own rules, and scrapes every job the rules name", async () => {
    const dir = join(work, 'prometheus');
    mkdirSync(join(dir, 'rules'), { recursive: true });
    copyFileSync(join(SITE, 'prometheus/prometheus.yml'), join(dir, 'prometheus.yml'));
    copyFileSync(join(REPO_ROOT, 'deploy/prometheus/rules/vigie.yml'), join(dir, 'rules/vigie.yml'));
    const check = await tool('promtool', ['check', 'config', join(dir, 'prometheus.yml')]);
    expect(check.code, check.out).toBe(0);
    expect(check.out).toContain('SUCCESS: 1 rule files found');
    const rules = await tool('promtool', ['check', 'rules', join(dir, 'rules/vigie.yml')]);
    expect(rules.code, rules.out).toBe(0);
    const config = readFileSync(join(dir, 'prometheus.yml'), 'utf8');
    const jobs = [...config.matchAll(/job_name: (\S+)/g)].map((m) => m[1]);
    for (const job of [
      'vigie-detector',
      ...Object.keys(SCHEMAS)
        .filter((s) => s !== 'detector')
        .map((s) => `vigie-${s}`),
    ]) {
      expect(jobs).toContain(job);
    }
  });

  it('passes amtool check-config, and routes each severity to its receiver', async () => {
    const file = join(SITE, 'alertmanager/alertmanager.yml');
    const check = await tool('amtool', ['check-config', file]);
    expect(check.code, check.out).toBe(0);
    const routes: [string[], string][] = [
      [['severity=critical', 'alert_id=dump:social-prod:6b07e274.1be5', 'rule=dump', 'source=vigie'], 'oncall-page'],
      [['severity=warning', 'alert_id=bulk-read:social-prod:6b07e274.1be5', 'rule=bulk-read'], 'secops-mail'],
      [['severity=info', 'alertname=VigieRecordsRejected', 'job=vigie-collector-pglog'], 'secops-digest'],
      [['severity=critical', 'alertname=VigieDetectorDown', 'job=vigie-detector'], 'oncall-page'],
      [['alertname=Unlabelled'], 'secops-mail'],
    ];
    for (const [labels, receiver] of routes) {
      const res = await tool('amtool', ['config', 'routes', 'test', `--config.file=${file}`, ...labels]);
      expect(res.code, res.out).toBe(0);
      expect(res.out.trim().split('\n')[0], labels.join(' ')).toBe(receiver);
    }
  });

  it('vigie config check and vigie policy explain, as commands: exit 0 on the filled-in site, 2 as shipped', async () => {
    const vigie = join(REPO_ROOT, 'services/cli/bin/vigie.js');
    const c = CONFIGS.find((x) => x.service === 'detector');
    const filled = join(work, 'detector.env');
    writeFileSync(
      filled,
      Object.entries(filledEnv(c?.envFile ?? ''))
        .map(([k, v]) => `${k}=${v}\n`)
        .join(''),
      { mode: 0o600 },
    );
    const ok = await tool(process.execPath, [
      vigie,
      'config',
      'check',
      '--env-file',
      filled,
      c?.file ?? '',
      join(SITE, 'policy.yaml'),
    ]);
    expect(ok.out.trim().split('\n')).toEqual([
      `ok      ${c?.file} (detector)`,
      `ok      ${join(SITE, 'policy.yaml')} (policy)`,
    ]);
    expect(ok.code).toBe(0);
    const shipped = await tool(process.execPath, [
      vigie,
      'config',
      'check',
      '--env-file',
      c?.envFile ?? '',
      c?.file ?? '',
    ]);
    expect(shipped.code).toBe(2);
    expect(shipped.out).toContain('api.token: expected a token of at least 16 characters, found <hidden>');
    const explain = await tool(process.execPath, [
      vigie,
      'policy',
      'explain',
      '--policy',
      join(SITE, 'policy.yaml'),
      '--role',
      'ext_bob',
      '--addr',
      '203.0.113.7',
      '--at',
      '2027-01-02T02:00:00Z',
    ]);
    expect(explain.code).toBe(0);
    expect(explain.out).toContain('  watchlist:            yes (roles.watchlist: ext_bob)');
    expect(explain.out).toContain('  client class:         non-bastion');
    expect(explain.out).toContain('  business hours:       no (sat is not a business day: mon tue wed thu fri)');
  });

  it('matches the systemd units: configuration paths, the checkpoint in the state directory, the log readable', () => {
    const pglog = loadConfig(CollectorPglogConfig, {
      file: join(SITE, 'db1/collector-pglog.yaml'),
      env: filledEnv(join(SITE, 'db1/collector-pglog.env')),
    });
    const unit = readFileSync(join(REPO_ROOT, 'deploy/systemd/vigie-collector-pglog.service'), 'utf8');
    const stateDir = /^StateDirectory=(\S+)$/m.exec(unit)?.[1];
    expect(pglog.checkpoint.file.startsWith(`/var/lib/${stateDir}/`)).toBe(true);
    const readOnly = (/^ReadOnlyPaths=(.+)$/m.exec(unit)?.[1] ?? '').split(/\s+/).map((p) => p.replace(/^-/, ''));
    expect(readOnly.some((p) => pglog.source.logDirectory?.startsWith(`${p}/`))).toBe(true);
    for (const c of CONFIGS) {
      const text = readFileSync(join(REPO_ROOT, `deploy/systemd/vigie-${c.service}.service`), 'utf8');
      expect(text).toContain(`--config /etc/vigie/${c.service}.yaml`);
      expect(text).toContain(`EnvironmentFile=/etc/vigie/${c.service}.env`);
    }
  });
});
