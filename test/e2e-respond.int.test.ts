import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeAlert, type Alert, type ResponseAction } from '@vigie/contract';
import { waitFor } from '@vigie/runtime';
import { REPO_ROOT, ROLES, connectAs, queryAs, readTopic } from '@vigie/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ALWAYS_BUSINESS_HOURS,
  type ApiAlert,
  type Pipeline,
  createRole,
  dropRoles,
  pgProgram,
  startPipeline,
  suffix,
} from './support/e2e.js';

// Temporary neutralisation of an account, end to end: a real pg_dump of `app` from outside the bastion, the real
// collector and detector, the real `vigie respond` command. The dump is held still, deterministically, by its own
// output: the test reads its stdout until the COPY of a table of 80 MB made here (after public.citizens and
// public.communes, whose COPY raised the dump alert), then stops reading; 80 MB is more than a pipe and both socket
// buffers can take (tcp_rmem/tcp_wmem max ~36 MB), so the backend waits in that COPY until it is terminated.
const id = suffix();
const cluster = `e2e-rsp-${id}`;
const role = { dumper: `e2e_rsp_dump_${id}`, glass: `e2e_rsp_glass_${id}` };
const bulkTable = `public.e2e_rsp_bulk_${id}`;
let pipeline: Pipeline;
let dump: { child: ChildProcess; exited: Promise<{ code: number | null; stderr: string }> } | undefined;

function writeRespondPolicy(): string {
  const file = join(mkdtempSync(join(tmpdir(), 'vigie-e2e-policy-')), 'policy.yaml');
  const policy = {
    clusters: [{ name: cluster, environment: 'production' }],
    bastion: { networks: ['127.0.0.2/32'] },
    businessHours: ALWAYS_BUSINESS_HOURS,
    personalData: { tables: ['public.citizens', 'social.*'] },
    roles: {
      service: ['app_*'],
      generic: ['postgres', 'admin'],
      vigie: ['vigie', 'vigie_collector', 'vigie_detector', 'vigie_responder'],
    },
    // A break-glass account: never locked, whatever it does.
    response: { never: [role.glass] },
  };
  writeFileSync(file, JSON.stringify(policy, null, 2));
  return file;
}

/** Runs the real `vigie respond` command against this file's detector. */
function vigieRespond(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [join(REPO_ROOT, 'services/cli/bin/vigie.js'), 'respond', ...args, '--by', 'oncall-e2e'],
      {
        env: {
          ...process.env,
          VIGIE_URL: `http://127.0.0.1:${pipeline.detector.port}`,
          VIGIE_API_TOKEN: pipeline.token,
        },
      },
      (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

async function apiAlert(alertId: string): Promise<ApiAlert> {
  const res = await fetch(`http://127.0.0.1:${pipeline.detector.port}/api/alerts/${encodeURIComponent(alertId)}`, {
    headers: { authorization: `Bearer ${pipeline.token}` },
  });
  expect(res.status).toBe(200);
  return ((await res.json()) as { alert: ApiAlert }).alert;
}

async function dumpAlert(r: string): Promise<ApiAlert> {
  return waitFor(async () => (await pipeline.alertsFor(r)).find((a) => a.rule === 'dump'), {
    timeoutMs: 60_000,
    intervalMs: 500,
    what: `a dump alert for ${r}`,
  });
}

async function canLogIn(r: string): Promise<boolean> {
  const { rows } = await queryAs<{ rolcanlogin: boolean }>(
    ROLES.superuser,
    'SELECT rolcanlogin FROM pg_roles WHERE rolname = $1',
    [r],
  );
  return rows[0]?.rolcanlogin === true;
}

async function backendsOf(r: string): Promise<number[]> {
  const { rows } = await queryAs<{ pid: number }>(
    ROLES.superuser,
    'SELECT pid FROM pg_stat_activity WHERE usename = $1',
    [r],
  );
  return rows.map((row) => row.pid);
}

/** The store's response trail of an alert (table of migration 5, in this detector's schema). */
async function trail(alertId: string): Promise<{ action: string; result: string; dry_run: boolean; mode: string }[]> {
  const { rows } = await queryAs<{ action: string; result: string; dry_run: boolean; mode: string }>(
    ROLES.superuser,
    `SELECT action, result, dry_run, mode FROM ${pipeline.storeSchema}.response_actions WHERE alert_id = $1
     ORDER BY at, action`,
    [alertId],
    { database: 'vigie' },
  );
  return rows;
}

beforeAll(async () => {
  await createRole(role.dumper, { privileged: true });
  await createRole(role.glass, { privileged: true });
  await queryAs(
    ROLES.superuser,
    `CREATE TABLE ${bulkTable} AS SELECT g AS id, repeat('x', 1000) AS filler FROM generate_series(1, 80000) AS g`,
  );
  pipeline = await startPipeline(cluster, writeRespondPolicy());
}, 180_000);

afterAll(async () => {
  dump?.child.kill('SIGKILL');
  await pipeline?.stop();
  await queryAs(ROLES.superuser, `DROP TABLE IF EXISTS ${bulkTable}`).catch(() => undefined);
  // LOGIN back in any case before the roles go (a failed test must not leave a locked role behind).
  await dropRoles(Object.values(role));
});

describe('end to end: vigie respond terminates a dump and locks its role for a while', () => {
  it('a dry run changes nothing; --yes ends the dump and refuses logins until the lock expires', async () => {
    const child = spawn(
      '/usr/lib/postgresql/15/bin/pg_dump',
      ['-h', '127.0.0.1', '-p', '55432', '-U', role.dumper, 'app'],
      { env: { ...process.env, PGPASSWORD: role.dumper }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    // Read until the bulk table's COPY starts, then stop: the dump stalls once the buffers are full.
    let tail = '';
    const reachedBulk = new Promise<void>((resolve) => {
      child.stdout?.on('data', (chunk: Buffer) => {
        const text = tail + chunk.toString('latin1');
        tail = text.slice(-200);
        if (text.includes(`COPY ${bulkTable} `)) {
          child.stdout?.pause();
          resolve();
        }
      });
    });
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    dump = { child, exited: new Promise((resolve) => child.once('exit', (code) => resolve({ code, stderr }))) };

    await reachedBulk;
    const alert = await dumpAlert(role.dumper);
    expect(alert.where.clientClass).toBe('non-bastion');
    expect(alert.what.tables).toContain('public.citizens');
    expect(alert.sessionId).toMatch(/^[0-9a-f]+\.[0-9a-f]+$/);
    const [backend] = await waitFor(
      async () => {
        const pids = await backendsOf(role.dumper);
        return pids.length === 1 ? pids : undefined;
      },
      { timeoutMs: 10_000, what: 'the dump backend' },
    );
    // The session id carries the backend pid: the responder finds it from the alert alone.
    expect(Number.parseInt(alert.sessionId?.split('.')[1] ?? '', 16)).toBe(backend);

    // Dry run (the default): says what it would do, does nothing.
    const dry = await vigieRespond([alert.id, '--terminate', '--lock', '--for', '20s']);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toContain('dry run: nothing done');
    expect(dry.stdout).toContain(`would terminate backend ${backend} of session ${alert.sessionId}`);
    expect(dry.stdout).toContain(`would run ALTER ROLE ${role.dumper} NOLOGIN`);
    expect(await backendsOf(role.dumper)).toEqual([backend]);
    expect(await canLogIn(role.dumper)).toBe(true);
    expect((await apiAlert(alert.id)).response).toBeUndefined();
    expect(await trail(alert.id)).toEqual([
      { action: 'lock', result: 'planned', dry_run: true, mode: 'manual' },
      { action: 'terminate', result: 'planned', dry_run: true, mode: 'manual' },
    ]);

    // For real.
    const askedAt = Date.now();
    const done = await vigieRespond([alert.id, '--terminate', '--lock', '--for', '20s', '--yes']);
    expect(done.stderr).toBe('');
    expect(done.code).toBe(0);
    expect(done.stdout).toContain(`terminate ${role.dumper} (backend ${backend}): done`);
    expect(done.stdout).toMatch(new RegExp(`lock +${role.dumper}: done`));

    // The dump fails: its backend was terminated while it waited; what was buffered is read, then the error.
    child.stdout?.resume();
    const ended = await dump.exited;
    expect(ended.code).not.toBe(0);
    expect(ended.stderr).toMatch(/pg_dump: error: .*(administrator command|server closed the connection|connection)/s);
    expect(await backendsOf(role.dumper)).toEqual([]);

    // A new login of the role is refused while the lock runs.
    expect(await canLogIn(role.dumper)).toBe(false);
    await expect(connectAs(role.dumper)).rejects.toThrow(/is not permitted to log in/);

    // The API shows the actions on the alert, as a new revision.
    const responded = await apiAlert(alert.id);
    const actions = responded.response ?? [];
    expect(actions.map((a) => [a.action, a.result, a.mode, a.by])).toEqual([
      ['lock', 'done', 'manual', 'oncall-e2e'],
      ['terminate', 'done', 'manual', 'oncall-e2e'],
    ]);
    expect(actions[1]?.pid).toBe(backend);
    const until = Date.parse(actions[0]?.until ?? '');
    expect(until - askedAt).toBeGreaterThanOrEqual(19_000);
    expect(until - askedAt).toBeLessThan(40_000);
    expect(responded.revision).toBeGreaterThan(alert.revision);

    // After the expiry, the detector restores LOGIN by itself: the role logs in again.
    await waitFor(async () => canLogIn(role.dumper), { timeoutMs: 90_000, intervalMs: 500, what: 'LOGIN restored' });
    expect(Date.now()).toBeGreaterThanOrEqual(until);
    const client = await connectAs(role.dumper);
    expect((await client.query<{ u: string }>('SELECT current_user AS u')).rows[0]?.u).toBe(role.dumper);
    await client.end();

    // Nothing silent: the store's trail, the API and vigie.alerts.v1 carry every action and its result.
    const unlocked = await waitFor(
      async () => {
        const a = await apiAlert(alert.id);
        return a.response?.some((r) => r.action === 'unlock') ? a : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 500, what: 'the unlock on the alert' },
    );
    expect(unlocked.response?.at(-1)).toMatchObject({ action: 'unlock', result: 'done', mode: 'expiry', by: 'vigie' });
    expect(await trail(alert.id)).toEqual([
      { action: 'lock', result: 'planned', dry_run: true, mode: 'manual' },
      { action: 'terminate', result: 'planned', dry_run: true, mode: 'manual' },
      { action: 'lock', result: 'done', dry_run: false, mode: 'manual' },
      { action: 'terminate', result: 'done', dry_run: false, mode: 'manual' },
      { action: 'unlock', result: 'done', dry_run: false, mode: 'expiry' },
    ]);
    const states = (
      await readTopic(pipeline.topics.alerts, (ms) =>
        ms.some((m) => m.key?.toString() === alert.id && m.value?.includes('"unlock"')),
      )
    )
      .filter((m) => m.key?.toString() === alert.id)
      .map((m) => decodeAlert(m.value ?? ''))
      .flatMap((d) => (d.ok ? [d.value] : []));
    const responses = (a: Alert) => (a.response ?? []).map((r: ResponseAction) => `${r.action}:${r.result}`);
    expect(states.map(responses)).toContainEqual(['lock:done', 'terminate:done']);
    expect(responses(states.at(-1) as Alert)).toEqual(['lock:done', 'terminate:done', 'unlock:done']);
    const revisions = states.map((a) => a.revision);
    expect(revisions).toEqual([...revisions].sort((a, b) => a - b));
  }, 240_000);

  it('refuses a role listed in response.never, with a clear error, and leaves it alone', async () => {
    await pgProgram('pg_dump', role.glass, ['-f', '/dev/null', 'app']);
    const alert = await dumpAlert(role.glass);
    const refused = await vigieRespond([alert.id, '--lock', '--yes']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('VIGIE_RESPOND_REFUSED');
    expect(refused.stderr).toContain(`${role.glass} is listed in response.never`);
    expect(await canLogIn(role.glass)).toBe(true);
    // The refusal itself is on record: store trail and alert.
    expect(await trail(alert.id)).toEqual([{ action: 'lock', result: 'refused', dry_run: false, mode: 'manual' }]);
    const after = await waitFor(async () => (await apiAlert(alert.id)).response, {
      timeoutMs: 10_000,
      what: 'the refusal on the alert',
    });
    expect(after.map((r) => [r.action, r.result])).toEqual([['lock', 'refused']]);
  }, 120_000);
});
