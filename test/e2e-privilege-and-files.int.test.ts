import { waitFor } from '@vigie/runtime';
import { connectAs, queryAs, ROLES } from '@vigie/testkit';
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
  writePolicy,
} from './support/e2e.js';

// Privilege escalation, server-side data paths and password guessing, end to end: real clients (pg, psql) against
// the local stack's cluster, its log read by the real collector-pglog, the real detector reading privileged roles
// from the catalog. The periodic catalog refresh is set to an hour: only the refresh a GRANT triggers can make
// bob privileged within this test.
const id = suffix();
const cluster = `e2e-privesc-${id}`;
const role = {
  bob: `pe_bob_${id}`,
  carol: `pe_carol_${id}`,
  dave: `pe_dave_${id}`,
  erin: `pe_erin_${id}`,
  frank: `pe_frank_${id}`,
  mallory: `pe_mal_${id}`,
  group: `pe_grp_${id}`,
};
const schema = `pe_${id}`;
let pipe: Pipeline;

async function asAdmin(sql: string[]): Promise<void> {
  const c = await connectAs(ROLES.superuser, { applicationName: 'psql' });
  try {
    for (const s of sql) await c.query(s);
  } finally {
    await c.end();
  }
}

async function ruleAlerts(rule: string, login: string): Promise<ApiAlert[]> {
  return (await pipe.alertsFor(login)).filter((a) => a.rule === rule);
}

/** Waits for an alert of `rule` about `login` that satisfies `ok` (its latest revision). */
async function alertOf(rule: string, login: string, ok: (a: ApiAlert) => boolean, what: string): Promise<ApiAlert> {
  return waitFor(async () => (await ruleAlerts(rule, login)).find(ok), {
    timeoutMs: 60_000,
    intervalMs: 250,
    what: `${rule} for ${login}: ${what}`,
  });
}

/** A login that fails (wrong password) from a chosen source address; the failure is what the test wants. */
async function failLogin(login: string, localAddress: string, password = 'Winter2026!'): Promise<void> {
  await expect(connectAs(login, { localAddress, password })).rejects.toThrow(/password authentication failed/);
}

beforeAll(async () => {
  for (const r of [role.bob, role.carol, role.dave, role.erin, role.frank]) await createRole(r);
  await asAdmin([
    `CREATE ROLE ${role.group} NOLOGIN`,
    `GRANT ${role.group} TO ${role.carol}`,
    `CREATE SCHEMA ${schema}`,
    `GRANT USAGE, CREATE ON SCHEMA ${schema} TO ${role.bob}, ${role.carol}`,
  ]);
  pipe = await startPipeline(cluster, writePolicy(cluster, ALWAYS_BUSINESS_HOURS), {
    detector: { privileged: { refreshIntervalMs: 60 * 60_000 } },
  });
}, 180_000);

afterAll(async () => {
  await pipe?.stop();
  await queryAs(ROLES.superuser, `DROP SCHEMA IF EXISTS ${schema} CASCADE`).catch(() => undefined);
  await dropRoles(Object.values(role));
});

describe('end to end: privilege escalation', () => {
  it('CREATE ROLE … SUPERUSER and GRANT pg_read_all_data by the superuser from a workstation: one critical incident', async () => {
    await asAdmin([
      `CREATE ROLE ${role.mallory} LOGIN SUPERUSER PASSWORD 'not-in-any-alert'`,
      `GRANT pg_read_all_data TO ${role.bob}`,
    ]);
    const a = await alertOf(
      'privilege-escalation',
      ROLES.superuser,
      (x) => (x.what.objects ?? []).some((o) => o.startsWith('GRANT')),
      'both statements',
    );
    expect(a.severity).toBe('critical');
    expect(a.what.objects).toEqual([`CREATE ROLE ${role.mallory} SUPERUSER`, `GRANT pg_read_all_data TO ${role.bob}`]);
    expect(a.where).toMatchObject({ clientAddr: '127.0.0.1', clientClass: 'non-bastion' });
    expect(a.evidence.statements).toContain(`CREATE ROLE ${role.mallory} LOGIN SUPERUSER PASSWORD $1`);
    expect(JSON.stringify(a)).not.toContain('not-in-any-alert');
  });

  it('the grant made bob privileged at once: his SECURITY DEFINER function is critical, not a warning', async () => {
    // Bob's statement is logged after the GRANT was seen; the catalog re-read it triggered is done by then.
    await queryAs(role.bob, `CREATE FUNCTION ${schema}.peek() RETURNS int LANGUAGE sql SECURITY DEFINER AS 'SELECT 1'`);
    const a = await alertOf(
      'privilege-escalation',
      role.bob,
      (x) => (x.what.objects ?? []).includes(`SECURITY DEFINER ${schema}.peek`),
      'SECURITY DEFINER',
    );
    expect(a.who.privileged).toBe(true);
    expect(a.severity).toBe('critical');
  });

  it('an ordinary role creating a SECURITY INVOKER function and SET ROLE to its ordinary group: nothing', async () => {
    const c = await connectAs(role.carol, { applicationName: 'psql' });
    try {
      await c.query(`CREATE FUNCTION ${schema}.plain() RETURNS int LANGUAGE sql SECURITY INVOKER AS 'SELECT 2'`);
      await c.query(`SET ROLE ${role.group}`);
      await c.query('SELECT 1');
    } finally {
      await c.end();
    }
    await pipe.drained();
    expect(await ruleAlerts('privilege-escalation', role.carol)).toEqual([]);
  });
});

describe('end to end: server-side data paths', () => {
  it('COPY TO PROGRAM, pg_read_file and a read hidden in query_to_xml: one critical incident naming each', async () => {
    await asAdmin([
      "COPY (SELECT 1) TO PROGRAM 'cat > /dev/null'",
      "SELECT pg_read_file('PG_VERSION')",
      "SELECT query_to_xml('SELECT id FROM public.citizens LIMIT 1', true, false, '')",
    ]);
    const a = await alertOf(
      'server-file-access',
      ROLES.superuser,
      (x) => (x.what.objects ?? []).length >= 3,
      'three paths',
    );
    expect(a.severity).toBe('critical');
    expect(a.what.objects).toEqual(['COPY TO PROGRAM', 'pg_read_file()', 'query_to_xml(public.citizens)']);
    expect(a.what.tables).toContain('public.citizens');
    // The program and the file name are literals: they stay in the server.
    expect(JSON.stringify(a)).not.toContain('/dev/null');
    expect(JSON.stringify(a)).not.toContain('PG_VERSION');
  });

  it('psql \\copy (COPY … TO STDOUT on the client connection) is not a server-side path', async () => {
    await pgProgram('psql', role.carol, ['-d', 'app', '-c', `\\copy (SELECT 1) TO '/dev/null'`]);
    await pipe.drained();
    expect(await ruleAlerts('server-file-access', role.carol)).toEqual([]);
  });
});

describe('end to end: password guessing', () => {
  it('five wrong passwords with psql, then the right one: guessing, and a critical success', async () => {
    for (let k = 0; k < 5; k += 1) {
      // sslmode=disable: with `prefer`, libpq tries again without TLS after a failed login (two failures per try).
      await expect(
        pgProgram('psql', role.dave, ['-d', 'app', '-c', 'SELECT 1'], {
          PGPASSWORD: `guess-${k}`,
          PGSSLMODE: 'disable',
        }),
      ).rejects.toThrow(/password authentication failed/);
    }
    await pgProgram('psql', role.dave, ['-d', 'app', '-c', 'SELECT 1'], { PGSSLMODE: 'disable' });
    const guess = await alertOf('auth-brute-force', role.dave, (x) => x.id.endsWith(`:role:${role.dave}`), 'guessing');
    expect(guess.severity).toBe('warning');
    expect(guess.summary).toMatch(new RegExp(`^5 failed logins for ${role.dave} in 10 min, from 127\\.0\\.0\\.1`));
    // The login and each failure are sessions of their own (Kafka keys, maybe partitions): the detector may read the
    // login before the last failures and raise the success on the first three (`successAfterFailures`); the count it
    // shows then depends on that order (revisions are paced), the success itself does not.
    const success = await alertOf('auth-brute-force', role.dave, (x) => x.sessionId !== undefined, 'success');
    expect(success.summary).toMatch(/^login succeeded after [345] failed attempts/);
    expect(success.severity).toBe('critical');
    expect(JSON.stringify([guess, success])).not.toContain('guess-');
  });

  it('one password tried on four roles from one address, then one gets in: spraying, and a critical success', async () => {
    for (const r of [role.bob, role.carol, role.frank, `pe_nobody_${id}`]) await failLogin(r, '127.0.0.4');
    const c = await connectAs(role.frank, { localAddress: '127.0.0.4' });
    await c.end();
    const success = await alertOf(
      'auth-brute-force',
      role.frank,
      (x) => x.sessionId !== undefined,
      'success after spraying',
    );
    expect(success.severity).toBe('critical');
    expect(success.where.clientAddr).toBe('127.0.0.4');
    const alerts = await pipe.alerts('rule=auth-brute-force&limit=50');
    const spray = alerts.find((a) => a.id.endsWith(':source:127.0.0.4'));
    expect(spray?.summary).toMatch(/^password spraying from 127\.0\.0\.4 \(not the bastion\): 4 roles failed/);
    // The role that does not exist is counted, never named.
    expect(JSON.stringify(spray)).not.toContain('pe_nobody_');
  });

  it('a typo then the right password: no alert', async () => {
    await failLogin(role.erin, '127.0.0.5');
    const c = await connectAs(role.erin, { localAddress: '127.0.0.5' });
    await c.end();
    await pipe.drained();
    expect(await ruleAlerts('auth-brute-force', role.erin)).toEqual([]);
  });
});

describe('end to end: enumeration by paging', () => {
  it('a role walking citizens 1,000 rows a page over three sessions (keyset and OFFSET): one role incident', async () => {
    let last = 0;
    for (let s = 0; s < 3; s += 1) {
      const c = await connectAs(role.frank, { applicationName: 'export-script' });
      try {
        for (let page = 0; page < 4; page += 1) {
          if (s < 2) {
            const { rows } = await c.query<{ id: number }>(
              'SELECT * FROM public.citizens WHERE id > $1 ORDER BY id LIMIT 1000',
              [last],
            );
            last = Number(rows.at(-1)?.id ?? last);
          } else {
            await c.query(`SELECT * FROM public.citizens ORDER BY id LIMIT 1000 OFFSET ${8000 + page * 1000}`);
          }
        }
      } finally {
        await c.end();
      }
    }
    const a = await alertOf('bulk-read', role.frank, (x) => x.id.includes(':role-paging/'), 'paging across sessions');
    expect(a.severity).toBe('critical');
    expect(a.what.tables).toEqual(['public.citizens']);
    expect(a.sessionId).toBeUndefined();
    expect(a.summary).toMatch(/^enumeration by paging: \d+ pages/);
  });

  it('SELECT count(*) of citizens is not a bulk read', async () => {
    await queryAs(role.erin, 'SELECT count(*) FROM public.citizens');
    await pipe.drained();
    expect(await ruleAlerts('bulk-read', role.erin)).toEqual([]);
  });
});
