import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { waitFor } from '@vigie/runtime';
import { REPO_ROOT } from '@vigie/testkit';
import { afterAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const UNIT_DIR = join(REPO_ROOT, 'deploy/systemd');
const NODE = '/usr/bin/node';

/** The deployable services and the unit of each (alert-receiver is the local stack's stand-in, not deployed). */
const SERVICES = ['collector-pglog', 'collector-replication', 'collector-egress', 'detector'] as const;

/** A unit file's `[Service]` settings: key → every value given, in order (systemd keys may repeat). */
function serviceSection(text: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  let section = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const header = /^\[(.+)\]$/.exec(line);
    if (header) {
      section = header[1] as string;
      continue;
    }
    if (section !== 'Service') continue;
    const eq = line.indexOf('=');
    const key = line.slice(0, eq);
    out.set(key, [...(out.get(key) ?? []), line.slice(eq + 1)]);
  }
  return out;
}

/** The last value of a setting (what systemd applies for a non-list setting). */
function last(settings: Map<string, string[]>, key: string): string | undefined {
  return settings.get(key)?.at(-1);
}

/** Runs a tool; a failure is a value to assert on, not an exception. */
async function tool(
  cmd: string,
  args: string[],
  cwd: string,
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(cmd, args, { cwd });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : 1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

const units = SERVICES.map((s) => {
  const file = `vigie-${s}.service`;
  return { service: s, file, text: readFileSync(join(UNIT_DIR, file), 'utf8') };
});

// `systemd-analyze verify` and `security --offline` read unit files without a running systemd (CI's container has
// none as PID 1). Debian's `systemd` package ships it; deploy/local/stack.sh installs it with the stack's packages
// (the integration project's global setup), hence an integration test although nothing here talks to a server.
// verify refuses an ExecStart binary that does not exist: where node is not /usr/bin/node (a laptop with nvm), the
// units are verified as copies with that path replaced by this node — the only change made to them.
describe('deploy/systemd units', () => {
  const work = mkdtempSync(join(tmpdir(), 'vigie-systemd-'));
  afterAll(() => rmSync(work, { recursive: true, force: true }));
  const copies = units.map((u) => {
    const path = join(work, u.file);
    writeFileSync(path, existsSync(NODE) ? u.text : u.text.replaceAll(NODE, process.execPath));
    return { ...u, path };
  });

  it('has one unit per deployable service, and nothing else', () => {
    const files = readdirSync(UNIT_DIR).filter((f) => f.endsWith('.service'));
    expect(files.sort()).toEqual(units.map((u) => u.file).sort());
  });

  it.each(copies)('$file passes systemd-analyze verify without a warning', async ({ path }) => {
    const res = await tool('systemd-analyze', ['verify', path], work);
    expect(res.code, res.stderr).toBe(0);
    // verify exits 0 on an unknown key or a value it cannot parse ("…, ignoring"): any output is a failure.
    expect(res.stderr.trim()).toBe('');
  });

  it.each(copies)(
    '$file has an exposure level of 2.0 or less (systemd-analyze security --offline)',
    async ({ path }) => {
      const res = await tool(
        'systemd-analyze',
        ['security', '--offline=yes', '--threshold=20', '--no-pager', path],
        work,
      );
      const overall = /Overall exposure level for [^:]+: (\d+\.\d+)/.exec(res.stdout + res.stderr);
      expect(overall, res.stdout + res.stderr).not.toBeNull();
      expect(Number(overall?.[1])).toBeLessThanOrEqual(2.0);
      expect(
        res.code,
        res.stdout
          .split('\n')
          .filter((l) => l.includes('✗'))
          .join('\n'),
      ).toBe(0);
    },
  );

  it('a broken unit fails the same checks (the test can fail)', async () => {
    const broken = join(work, 'vigie-broken.service');
    writeFileSync(
      broken,
      (units[0]?.text ?? '')
        .replace('ProtectSystem=strict', 'ProtectSystem=sometimes')
        .replace('ExecStart=/usr/bin/node', 'ExecStart=/nonexistent/node'),
    );
    const res = await tool('systemd-analyze', ['verify', broken], work);
    expect(res.code).not.toBe(0);
    expect(res.stderr).toContain('Failed to parse protect system value');
    rmSync(broken);
  });

  it.each(units)(
    '$file: least privilege, restart on failure, secrets from an environment file',
    ({ service, text }) => {
      const s = serviceSection(text);
      const want: Record<string, string> = {
        DynamicUser: 'yes',
        NoNewPrivileges: 'yes',
        ProtectSystem: 'strict',
        ProtectHome: 'yes',
        PrivateTmp: 'yes',
        PrivateDevices: 'yes',
        ProtectKernelTunables: 'yes',
        ProtectKernelModules: 'yes',
        ProtectControlGroups: 'yes',
        RestrictSUIDSGID: 'yes',
        RestrictNamespaces: 'yes',
        LockPersonality: 'yes',
        SystemCallArchitectures: 'native',
        UMask: '0077',
        Restart: 'on-failure',
        EnvironmentFile: `/etc/vigie/${service}.env`,
      };
      for (const [key, value] of Object.entries(want)) expect(`${key}=${last(s, key)}`).toBe(`${key}=${value}`);
      // No capability at all: an empty bounding set and no ambient ones (see the egress test below for why egress
      // needs none either).
      expect(s.get('CapabilityBoundingSet')).toEqual(['']);
      expect(s.get('AmbientCapabilities')).toEqual(['']);
      expect(s.get('SystemCallFilter')).toContain('@system-service');
      // The real entry point, with this service's own configuration file; the policy for those that read it.
      const exec = last(s, 'ExecStart') ?? '';
      expect(exec).toMatch(
        new RegExp(
          `^/usr/bin/node /opt/vigie/services/cli/bin/vigie\\.js run ${service} --config /etc/vigie/${service}\\.yaml`,
        ),
      );
      expect(exec.includes('--policy /etc/vigie/policy.yaml')).toBe(service !== 'collector-pglog');
      // Only collector-pglog keeps state (its checkpoint), and only it reads the server's files (postgres group).
      expect(last(s, 'StateDirectory')).toBe(service === 'collector-pglog' ? 'vigie-collector-pglog' : undefined);
      expect(last(s, 'SupplementaryGroups')).toBe(service === 'collector-pglog' ? 'postgres' : undefined);
      // Only collector-egress speaks netlink (ss); every service needs IP, and Unix sockets for a local PostgreSQL.
      const families = (last(s, 'RestrictAddressFamilies') ?? '').split(/\s+/).sort();
      const expected = ['AF_INET', 'AF_INET6', 'AF_UNIX', ...(service === 'collector-egress' ? ['AF_NETLINK'] : [])];
      expect(families).toEqual(expected.sort());
    },
  );

  it('the optional egress drop-in grants CAP_NET_ADMIN and nothing else', () => {
    const s = serviceSection(readFileSync(join(UNIT_DIR, 'collector-egress-net-admin.conf'), 'utf8'));
    expect(s.get('CapabilityBoundingSet')).toEqual(['CAP_NET_ADMIN']);
    expect(s.get('AmbientCapabilities')).toEqual(['CAP_NET_ADMIN']);
    expect([...s.keys()].sort()).toEqual(['AmbientCapabilities', 'CapabilityBoundingSet', 'PrivateUsers']);
  });

  // Why collector-egress runs without CAP_NET_ADMIN: socket-close events (sock_diag's destroy multicast groups) reach
  // an unprivileged process. This runs the collector's own command (`stdbuf -oL ss -tinEHO`) as `nobody` with every
  // capability dropped, and requires the close of a connection it makes. Needs root to drop to nobody (CI is root).
  it.runIf(process.getuid?.() === 0)(
    'ss -tinEHO receives socket-close events as nobody with no capability',
    async () => {
      const server = createServer((socket) => socket.end('probe'));
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const port = (server.address() as AddressInfo).port;
      const child = spawn(
        'setpriv',
        [
          '--reuid=nobody',
          '--regid=nogroup',
          '--clear-groups',
          '--inh-caps=-all',
          '--bounding-set=-all',
          '--no-new-privs',
          'stdbuf',
          '-oL',
          'ss',
          '-tinEHO',
        ],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let out = '';
      child.stdout.on('data', (b: Buffer) => (out += b.toString()));
      const probe = setInterval(() => {
        const c = connect(port, '127.0.0.1');
        c.on('error', () => undefined);
        c.resume();
        c.on('end', () => c.end());
      }, 200);
      try {
        await waitFor(() => out.includes(`:${port} `), { timeoutMs: 5000, what: 'a close event' }).catch(() => false);
        expect(out).toContain(`127.0.0.1:${port} `);
        expect(out).toMatch(/bytes_(sent|acked):\d+/);
      } finally {
        clearInterval(probe);
        child.kill('SIGTERM');
        await new Promise<void>((resolve) => server.close(() => resolve()));
      }
    },
    15_000,
  );
});
