import { readFileSync, writeFileSync } from 'node:fs';
import { setTimeout as pause } from 'node:timers/promises';
import { waitFor } from '@vigie/runtime';
import { ROLES, connectAs, queryAs } from '@vigie/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ALWAYS_BUSINESS_HOURS,
  type ApiAlert,
  type Pipeline,
  createRole,
  dropRoles,
  pgProgram,
  startDetector,
  startPipeline,
  suffix,
  writePolicy,
} from './support/e2e.js';

// The account-hygiene rules (issue 15) with real clients against the real cluster, through the real collector and
// detector processes. Business hours cover every minute, so no off-hours alert depends on when this runs; the
// dormant role's history is written relative to the database server's clock.
const id = suffix();
const cluster = `e2e-hygiene-${id}`;
const role = {
  outsider: `e2e_hy_out_${id}`,
  privileged: `e2e_hy_priv_${id}`,
  insider: `e2e_hy_in_${id}`,
  excepted: `e2e_hy_exc_${id}`,
  lapsed: `e2e_hy_lapsed_${id}`,
  service: `app_hy_${id}`,
  dormant: `e2e_hy_dorm_${id}`,
  active: `e2e_hy_act_${id}`,
  watched: `e2e_hy_watch_${id}`,
  generic: `e2e_hy_gen_${id}`,
  pace: `e2e_hy_pace_${id}`,
  job: `e2e_hy_job_${id}`,
};
const liveException = `CHG-${id} live migration window`;
const expiredException = `CHG-${id} old migration window`;
let pipeline: Pipeline;
let detector: Awaited<ReturnType<typeof startDetector>>;

async function alertsOf(r: string, rule: string): Promise<ApiAlert[]> {
  return (await detector.alertsFor(r)).filter((a) => a.rule === rule);
}

async function waitAlert(r: string, rule: string, what: string): Promise<ApiAlert> {
  return waitFor(async () => (await alertsOf(r, rule))[0], { timeoutMs: 60_000, intervalMs: 500, what });
}

/** One session as `r` from `localAddress`, running `statements` in order. */
async function session(r: string, localAddress: string, statements: string[], applicationName = 'vigie-test') {
  const client = await connectAs(r, { localAddress, applicationName });
  try {
    for (const sql of statements) await client.query(sql);
  } finally {
    await client.end();
  }
}

beforeAll(async () => {
  for (const r of Object.values(role)) {
    if (r === role.service) continue;
    await createRole(r, { privileged: r === role.privileged });
  }
  await queryAs(ROLES.superuser, `CREATE ROLE ${role.service} LOGIN PASSWORD '${role.service}'`);
  const file = writePolicy(cluster, ALWAYS_BUSINESS_HOURS);
  const policy = JSON.parse(readFileSync(file, 'utf8')) as {
    bastion: Record<string, unknown>;
    roles: Record<string, string[]>;
  };
  policy.bastion['exceptions'] = [
    { name: liveException, networks: ['127.0.0.4/32'], roles: [role.excepted], expires: '2999-12-31' },
    { name: expiredException, networks: ['127.0.0.5/32'], roles: [role.lapsed], expires: '2001-01-31' },
  ];
  policy.roles['generic'] = [...(policy.roles['generic'] ?? []), role.generic, role.pace, role.job];
  policy.roles['watchlist'] = [role.watched];
  writeFileSync(file, JSON.stringify(policy, null, 2));
  pipeline = await startPipeline(cluster, file);
  // The store now exists: give it a history (as a previous deployment would have left it), then restart the
  // detector on the same store, group and topics so that it starts from that history.
  await pipeline.detector.stop();
  await queryAs(
    ROLES.superuser,
    `INSERT INTO ${pipeline.storeSchema}.role_last_seen (cluster, role, last_seen, last_client_addr)
     VALUES ($1, $2, now() - interval '200 days', '127.0.0.2'), ($1, $3, now() - interval '10 days', '127.0.0.2')`,
    [cluster, role.dormant, role.active],
    { database: 'vigie' },
  );
  detector = await startDetector(
    cluster,
    file,
    pipeline.topics,
    {},
    {},
    { id: pipeline.storeSchema.replace(/^e2e_/, ''), token: pipeline.token },
  );
}, 240_000);

afterAll(async () => {
  await detector?.detector.stop();
  await pipeline?.stop();
  await dropRoles(Object.values(role));
});

describe('end to end: account hygiene', () => {
  it('bastion-bypass: a human session outside the bastion is an alert, critical when privileged', async () => {
    // Real psql, from 127.0.0.1 (not the bastion), reading nothing personal.
    await pgProgram('psql', role.outsider, ['-d', 'app', '-c', 'SELECT 1']);
    await session(role.privileged, '127.0.0.3', ['SELECT 1']);
    const plain = await waitAlert(role.outsider, 'bastion-bypass', 'bastion-bypass for the psql session');
    const privileged = await waitAlert(role.privileged, 'bastion-bypass', 'bastion-bypass for the privileged role');
    expect({ severity: plain.severity, cls: plain.where.clientClass, app: plain.where.applicationName }).toEqual({
      severity: 'warning',
      cls: 'non-bastion',
      app: 'psql',
    });
    expect(plain.summary).toContain(`session by ${role.outsider} from 127.0.0.1 (not the bastion)`);
    expect({
      severity: privileged.severity,
      addr: privileged.where.clientAddr,
      who: privileged.who.privileged,
    }).toEqual({ severity: 'critical', addr: '127.0.0.3', who: true });
  });

  it('bastion-bypass: an expired exception no longer exempts (and the detector said so at startup)', async () => {
    await session(role.lapsed, '127.0.0.5', ['SELECT 1']);
    const alert = await waitAlert(role.lapsed, 'bastion-bypass', 'bastion-bypass despite the expired exception');
    expect(alert.summary).toContain(`bastion exception "${expiredException}" expired at 2001-02-01T00:00:00.000Z`);
    const warnings = detector.detector
      .log()
      .split('\n')
      .filter((l) => l.includes('expired on 2001-01-31'));
    expect(warnings.some((l) => l.includes(expiredException) && l.includes('"level":"warn"'))).toBe(true);
  });

  it('bastion-bypass: none from the bastion, under a live exception, or for a service account', async () => {
    await session(role.insider, '127.0.0.2', ['SELECT 1']);
    await session(role.excepted, '127.0.0.4', ['SELECT 1'], 'psql');
    await session(role.service, '127.0.0.1', ['SELECT 1'], 'psql');
    // The expired exception's role from an address no exception covers: raised, which shows these were seen.
    await session(role.lapsed, '127.0.0.6', ['SELECT 2']);
    await waitFor(async () => (await alertsOf(role.lapsed, 'bastion-bypass')).length === 2, {
      timeoutMs: 60_000,
      intervalMs: 500,
      what: 'the second session of the lapsed role',
    });
    await pipeline.drained();
    for (const r of [role.insider, role.excepted, role.service])
      expect(await alertsOf(r, 'bastion-bypass')).toEqual([]);
  });

  it('dormant-account-login: a role last seen 200 days ago raises an alert at its login; one seen 10 days ago none', async () => {
    await session(role.dormant, '127.0.0.2', ['SELECT 1']);
    await session(role.active, '127.0.0.2', ['SELECT 1']);
    const alert = await waitAlert(role.dormant, 'dormant-account-login', 'a dormant-account alert');
    expect(alert.severity).toBe('warning');
    expect(alert.summary).toMatch(/not seen for (199|200) days \(last seen \d{4}-\d{2}-\d{2}\)/);
    expect(alert.summary).not.toContain('learning period');
    await pipeline.drained();
    expect(await alertsOf(role.active, 'dormant-account-login')).toEqual([]);
    // Seen now: its next login is not dormant any more.
    await session(role.dormant, '127.0.0.2', ['SELECT 2']);
    await pipeline.drained();
    expect((await alertsOf(role.dormant, 'dormant-account-login')).map((a) => a.id)).toEqual([alert.id]);
  });

  it('watchlist: every session is an info alert, bulk-read uses the tighter thresholds and tags the alert', async () => {
    // 2,000 rows with a WHERE: above the watchlist's rowsPerStatement (1,000), under the ordinary one (10,000).
    const read = 'SELECT id FROM public.citizens WHERE id <= 2000';
    await session(role.watched, '127.0.0.2', [read]);
    await session(role.insider, '127.0.0.2', [read]);
    // The session's alert opens at its start; its read adds the table in a later revision.
    const info = await waitFor(
      async () =>
        (await alertsOf(role.watched, 'watchlist-session')).find((a) => a.what.tables.includes('public.citizens')),
      { timeoutMs: 60_000, intervalMs: 500, what: 'the watchlisted session with its read' },
    );
    const bulk = await waitAlert(role.watched, 'bulk-read', 'the watchlisted bulk read');
    expect({ severity: info.severity, tags: info.tags, tables: info.what.tables }).toEqual({
      severity: 'info',
      tags: expect.arrayContaining(['watchlist']) as string[],
      tables: ['public.citizens'],
    });
    expect({ severity: bulk.severity, rows: bulk.what.rows }).toEqual({ severity: 'warning', rows: 2000 });
    expect(bulk.tags).toContain('watchlist');
    await pipeline.drained();
    expect(await alertsOf(role.insider, 'bulk-read')).toEqual([]);
    expect(await alertsOf(role.insider, 'watchlist-session')).toEqual([]);
  });

  it("generic-account-interactive: psql's \\d queries from the bastion, under another application_name", async () => {
    // What psql really sends for \d (its -E echo), replayed from the bastion as a "nightly-etl" client.
    const echo = await pgProgram('psql', ROLES.superuser, ['-d', 'app', '-E', '-c', '\\d public.citizens']);
    const queries = [...echo.matchAll(/^\*+ QUERY \*+\n([\s\S]*?)\n\*{10,}$/gm)].map((m) => m[1] as string);
    expect(queries.length).toBeGreaterThanOrEqual(2);
    await session(role.generic, '127.0.0.2', queries, 'nightly-etl');
    const alert = await waitAlert(role.generic, 'generic-account-interactive', 'the generic-account alert');
    expect(alert.where.clientClass).toBe('bastion');
    expect(alert.where.applicationName).toBe('nightly-etl');
    expect(alert.summary).toContain(": an interactive client's catalog queries;");
  });

  it('generic-account-interactive: human pace raises it; a fast job of one shape does not', async () => {
    const client = await connectAs(role.pace, { localAddress: '127.0.0.2', applicationName: 'nightly-etl' });
    try {
      // A person typing: six different statements a little over two seconds apart.
      const typed = [
        'SELECT 1',
        'SELECT now()',
        'SHOW work_mem',
        'SELECT count(*) FROM public.communes',
        'SELECT 2 + 2',
        'SELECT current_user',
      ];
      for (const sql of typed) {
        await client.query(sql);
        await pause(2_300);
      }
    } finally {
      await client.end();
    }
    await session(
      role.job,
      '127.0.0.2',
      Array.from({ length: 30 }, () => 'SELECT 1'),
      'nightly-etl',
    );
    const alert = await waitAlert(role.pace, 'generic-account-interactive', 'the human-pace alert');
    expect(alert.summary).toContain(': statements at human pace;');
    await pipeline.drained();
    expect(await alertsOf(role.job, 'generic-account-interactive')).toEqual([]);
  }, 60_000);
});
