import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Alert } from '@vigie/contract';
import { waitFor } from '@vigie/runtime';
import { REPO_ROOT, ROLES, STACK, connectAs, exclusive, queryAs } from '@vigie/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dropRoles, suffix } from './support/e2e.js';

// `npm start` (vigie start) on a site whose policy forgot roles.vigie, on a clock that is never business time (the
// policy has no business days: PostgreSQL keeps real time, so the weekend is the policy's, not a faked clock).
//
// Vigie runs here as its own roles, made for this file: a collector account (REPLICATION, pg_monitor, like the
// stack's vigie_collector) for the collectors and the detector's catalog reads, and a store owner. Other test files
// run collectors and detectors as vigie_collector and vigie against the same server meanwhile; their sessions are
// not this deployment's, and alerts about them say nothing of this one. Every alert about this deployment's roles
// is one about Vigie's own sessions.
//
// "Ten minutes" in about two: heartbeats every 2 s (pglog, egress; default 10 s), replication health polls every
// 3 s (default 30 s), catalog refreshes every 5 s (default 5 min), engine ticks every second (default 5 s), the
// misuse rule's announcement grace 20 s (default 90 s), Alertmanager re-sends every 5 s (default 60 s). The window
// also kills the replication stream and the egress connection once, so that every collector opens new sessions
// (slot reads, a new walsender, a new pool connection) that must be announced like the first ones.
const id = suffix();
const collectorRole = `vigie_e2e_collector_${id}`;
const storeRole = `vigie_e2e_store_${id}`;
const WINDOW_MS = 100_000;
let child: ChildProcess | undefined;
let out = '';
let release: (() => void) | undefined;
let startDir = '';
let token = '';
let slotExisted = false;

/** Event time (ms) of the last heartbeat the detector consumed from each collector, from its /metrics. */
async function heardUntil(): Promise<Map<string, number>> {
  const text = await (await fetch('http://127.0.0.1:18080/metrics')).text();
  const out = new Map<string, number>();
  for (const m of text.matchAll(
    /^vigie_collector_last_heartbeat_timestamp_seconds\{[^}]*collector="([^"]+)"[^}]*cluster="local"[^}]*\} (\S+)$/gm,
  )) {
    out.set(m[1]!, Number(m[2]) * 1000);
  }
  return out;
}

/** Waits until the detector has consumed heartbeats of every collector written after `ms`. */
async function heardPast(ms: number): Promise<void> {
  await waitFor(
    async () => {
      const heard = await heardUntil();
      return ['collector-pglog', 'collector-replication', 'collector-egress'].every((c) => (heard.get(c) ?? 0) > ms);
    },
    {
      timeoutMs: WINDOW_MS * 2,
      intervalMs: 1000,
      what: `heartbeats of every collector past ${new Date(ms).toISOString()}`,
    },
  );
}

async function api(query: string): Promise<Alert[]> {
  const res = await fetch(`http://127.0.0.1:18080/api/alerts?${query}`, {
    headers: { authorization: `Bearer ${token}` },
  });
  if (!res.ok) throw new Error(`GET /api/alerts?${query}: ${res.status}`);
  return ((await res.json()) as { alerts: { alert: Alert }[] }).alerts.map((a) => a.alert);
}

beforeAll(async () => {
  release = await exclusive('vigie-start');
  const { rows } = await queryAs(ROLES.superuser, "SELECT 1 FROM pg_replication_slots WHERE slot_name = 'vigie_slot'");
  slotExisted = rows.length > 0;
  await queryAs(
    ROLES.superuser,
    `CREATE ROLE ${collectorRole} LOGIN REPLICATION PASSWORD '${collectorRole}' IN ROLE pg_monitor, pg_read_all_stats;
     CREATE ROLE ${storeRole} LOGIN PASSWORD '${storeRole}';
     GRANT CONNECT, CREATE ON DATABASE vigie TO ${storeRole}`,
  );
  // Some sites give their monitoring account read access to everything: the stolen-password case below reads.
  await queryAs(ROLES.superuser, `GRANT SELECT ON public.citizens TO ${collectorRole}`, [], { database: 'app' });

  startDir = mkdtempSync(join(tmpdir(), 'vigie-start-trust-'));
  const policy = join(startDir, 'policy.yaml');
  writeFileSync(
    policy,
    JSON.stringify({
      clusters: [{ name: 'local', environment: 'production' }],
      bastion: { networks: ['127.0.0.2/32'] },
      businessHours: { timezone: 'Europe/Paris', days: [] },
      personalData: { tables: ['public.citizens', 'social.*'] },
      roles: { service: ['app_*'], generic: ['postgres', 'admin'] },
    }),
  );
  const rules = join(startDir, 'site-rules.yaml');
  writeFileSync(rules, JSON.stringify({ overrides: [{ id: 'vigie-account-misuse', params: { graceSeconds: 20 } }] }));
  const pg = `127.0.0.1:${STACK.pg.port}`;
  child = spawn(process.execPath, [join(REPO_ROOT, 'services/cli/bin/vigie.js'), 'start'], {
    env: {
      ...process.env,
      VIGIE_START_DIR: startDir,
      VIGIE_POLICY: policy,
      VIGIE_CONNECTION__USER: collectorRole,
      VIGIE_CONNECTION__PASSWORD: collectorRole,
      VIGIE_POSTGRES__USER: collectorRole,
      VIGIE_POSTGRES__PASSWORD: collectorRole,
      VIGIE_PRIVILEGED__CONNECTION_STRING: `postgresql://${collectorRole}:${collectorRole}@${pg}/postgres`,
      VIGIE_STORE__CONNECTION_STRING: `postgresql://${storeRole}:${storeRole}@${pg}/vigie`,
      VIGIE_STORE__SCHEMA: `e2e_trust_${id}`,
      VIGIE_ENGINE__RULES_FILE: rules,
      VIGIE_HEARTBEAT_INTERVAL_MS: '2000',
      VIGIE_HEALTH__INTERVAL_MS: '3000',
      VIGIE_PRIVILEGED__REFRESH_INTERVAL_MS: '5000',
      VIGIE_ENGINE__TICK_INTERVAL_MS: '1000',
      VIGIE_ALERTMANAGER__RESEND_INTERVAL_MS: '5000',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  await waitFor(() => out.includes('Waiting for alerts') || child?.exitCode !== null, {
    timeoutMs: 150_000,
    intervalMs: 250,
    what: 'vigie start to be ready',
  });
  expect(child.exitCode, out).toBeNull();
  token = /Bearer ([^']+)'/.exec(out)?.[1] ?? '';
}, 900_000); // up to 600 s waiting for the lock held by another file's `vigie start`, then its own start

afterAll(async () => {
  if (child && child.exitCode === null) {
    child.kill('SIGINT');
    await waitFor(() => child?.exitCode !== null, { timeoutMs: 30_000, what: 'vigie start to stop' }).catch(() =>
      child?.kill('SIGKILL'),
    );
  }
  if (!slotExisted) {
    await queryAs(
      ROLES.superuser,
      "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = 'vigie_slot' AND NOT active",
    ).catch(() => undefined);
  }
  await queryAs(ROLES.superuser, `DROP SCHEMA IF EXISTS e2e_trust_${id} CASCADE`, [], { database: 'vigie' }).catch(
    () => undefined,
  );
  await queryAs(ROLES.superuser, `REVOKE ALL ON public.citizens FROM ${collectorRole}`, [], { database: 'app' }).catch(
    () => undefined,
  );
  await queryAs(ROLES.superuser, `REVOKE ALL ON DATABASE vigie FROM ${storeRole}`).catch(() => undefined);
  await dropRoles([collectorRole, storeRole]);
  release?.();
}, 120_000);

describe("vigie start: Vigie's own sessions on a site that forgot roles.vigie", () => {
  it('raises nothing about its own sessions over many heartbeat, poll, refresh and reconnection cycles', async () => {
    const started = Date.now();
    const since = new Date(started - 60_000).toISOString();
    // A third of the way (as the detector heard it), a new walsender and new slot-reading sessions, and a new
    // egress connection: each must be announced like the first ones.
    await heardPast(started + WINDOW_MS / 3);
    const killed = await queryAs<{ n: string }>(
      ROLES.superuser,
      `SELECT count(pg_terminate_backend(pid)) AS n FROM pg_stat_activity
        WHERE usename = $1 AND application_name IN ('vigie-collector-replication', 'vigie-collector-egress')`,
      [collectorRole],
    );
    expect(Number(killed.rows[0]?.n)).toBeGreaterThanOrEqual(2);
    // Until the detector has consumed every collector's heartbeats to the end of the window (past the grace of
    // the misuse rule many times over: an unannounced session would have raised by then).
    await heardPast(started + WINDOW_MS);

    // The collectors did reconnect and are heard (no collector-silent), and not one alert names this deployment's
    // roles — not off-hours (its collector role holds REPLICATION: privileged), not dump (its walsender), not
    // non-bastion egress (the stream's bytes), not vigie-account-misuse.
    const { rows } = await queryAs<{ n: string }>(
      ROLES.superuser,
      `SELECT count(*) AS n FROM pg_stat_activity WHERE usename = $1 AND backend_type = 'walsender'`,
      [collectorRole],
    );
    expect(Number(rows[0]?.n)).toBe(1);
    for (const role of [collectorRole, storeRole]) {
      expect(await api(`role=${role}&since=${since}`), `alerts about ${role}`).toEqual([]);
      expect(out).not.toContain(role);
    }
    const silent = (await api(`rule=collector-silent&since=${since}`)).filter((a) => a.cluster === 'local');
    expect(silent.map((a) => a.summary)).toEqual([]);
  }, 300_000);

  it('raises exactly one critical vigie-account-misuse for its collector account used from a workstation', async () => {
    const since = new Date(Date.now() - 60_000).toISOString();
    // The collector's password, a psql-like client (application_name psql) on a workstation (127.0.0.3).
    const intruder = await connectAs(collectorRole, { localAddress: '127.0.0.3', applicationName: 'psql' });
    let sessionId = '';
    try {
      const me = await intruder.query<{ s: string }>(
        `SELECT to_hex(trunc(extract(epoch FROM backend_start))::bigint) || '.' || to_hex(pid) AS s
           FROM pg_stat_activity WHERE pid = pg_backend_pid()`,
      );
      sessionId = me.rows[0]?.s ?? '';
      await intruder.query('SELECT * FROM public.citizens');
    } finally {
      await intruder.end();
    }
    const alerts = await waitFor(
      async () => {
        const list = await api(`role=${collectorRole}&since=${since}`);
        return list.length > 0 ? list : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 500, what: 'the misuse alert' },
    );
    // Let the session's last lines (its end) and a few ticks through: still one alert, one incident.
    await waitFor(
      async () => (await api(`role=${collectorRole}&since=${since}`))[0]?.status === 'resolved' || undefined,
      { timeoutMs: 120_000, intervalMs: 1000, what: 'the incident to close with the session' },
    );
    const final = await api(`role=${collectorRole}&since=${since}`);
    expect(final.map((a) => [a.id, a.rule, a.severity])).toEqual([
      [`vigie-account-misuse:local:${sessionId}`, 'vigie-account-misuse', 'critical'],
    ]);
    expect(alerts[0]?.where).toMatchObject({
      clientAddr: '127.0.0.3',
      clientClass: 'non-bastion',
      applicationName: 'psql',
    });
    expect(final[0]?.what.tables).toEqual(['public.citizens']);
    expect(final[0]?.summary).toContain("session of Vigie's own account");
    expect(out).toMatch(
      new RegExp(`ALERT CRITICAL vigie-account-misuse: session of Vigie's own account ${collectorRole}`),
    );
  }, 240_000);

  it('reports collector-pglog silent to Alertmanager within 90 s of its stop, and on-call receives it', async () => {
    const pid = Number(readFileSync(join(startDir, 'collector-pglog.pid'), 'utf8'));
    const stoppedAt = Date.now();
    process.kill(pid, 'SIGTERM');
    await waitFor(() => out.includes('collector-pglog exited'), { timeoutMs: 30_000, what: 'collector-pglog to stop' });
    // Everything else keeps running: the dead-man switch is the detector's.
    expect(child?.exitCode).toBeNull();
    const alertId = 'collector-silent:local:collector-pglog/collector-pglog';
    const inAlertmanager = await waitFor(
      async () => {
        const filter = encodeURIComponent(`alert_id="${alertId}"`);
        const res = await fetch(`${STACK.alertmanagerUrl}/api/v2/alerts?filter=${filter}&active=true`);
        const list = (await res.json()) as { labels: Record<string, string>; annotations: Record<string, string> }[];
        return list.length > 0 ? list : undefined;
      },
      { timeoutMs: 90_000, intervalMs: 1000, what: 'the collector-silent alert in Alertmanager' },
    );
    expect(Date.now() - stoppedAt).toBeLessThan(90_000);
    expect(inAlertmanager[0]?.labels).toMatchObject({
      rule: 'collector-silent',
      severity: 'critical',
      cluster: 'local',
    });
    expect(inAlertmanager[0]?.annotations['summary']).toContain('collector-pglog (collector-pglog) of cluster local');
    // The shipped route pages critical alerts through the receiver (group_wait 10 s).
    const notified = await waitFor(
      async () => {
        const res = await fetch(`http://127.0.0.1:19096/notifications?alert_id=${encodeURIComponent(alertId)}`);
        const body = (await res.json()) as { notifications: { route: string; status: string }[] };
        return body.notifications.length > 0 ? body.notifications : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 1000, what: 'the notification at the receiver' },
    );
    expect(notified[0]).toMatchObject({ route: 'critical', status: 'firing' });
  }, 240_000);
});
