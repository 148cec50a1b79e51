import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { waitFor } from '@vigie/runtime';
import { connectAs, currentLogFile, STACK, uniqueName } from '@vigie/testkit';
import { sampleAlert } from '../../../test-support/fixtures.js';
import { MIGRATIONS } from './migrations.js';
import { alertRef, createAlertStore, type AlertStore } from './alert-store.js';

// The local stack's two store roles (deploy/local/sql/roles.sql): the owner migrates, the runtime role does the rest.
const STORE_URL = `postgresql://vigie:vigie@${STACK.pg.host}:${STACK.pg.port}/vigie`;
const RUNTIME_ROLE = 'vigie_detector';
const RUNTIME_URL = `postgresql://${RUNTIME_ROLE}:${RUNTIME_ROLE}@${STACK.pg.host}:${STACK.pg.port}/vigie`;

describe('alert store on the real PostgreSQL', () => {
  const schema = uniqueName('store');
  const stores: AlertStore[] = [];
  const open = () => {
    const s = createAlertStore({ connectionString: RUNTIME_URL, migrationConnectionString: STORE_URL, schema });
    stores.push(s);
    return s;
  };

  afterAll(async () => {
    for (const s of stores) await s.close();
    const c = new pg.Client({ connectionString: STORE_URL });
    await c.connect();
    await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await c.end();
  });

  it('applies its migrations exactly once, even when two detectors start together', async () => {
    const [a, b] = await Promise.all([open().migrate(), open().migrate()]);
    expect([...a, ...b].sort((x, y) => x - y)).toEqual(MIGRATIONS.map((m) => m.version));
    expect(await open().migrate()).toEqual([]);
  });

  it("keeps the newest announcement of each of Vigie's accounts and reloads those recent enough", async () => {
    const store = open();
    await store.touchVigieAccounts([
      { cluster: 'local', role: 'vigie_collector', ts: '2026-11-26T10:00:00.000Z' },
      { cluster: 'local', role: 'vigie_collector', ts: '2026-11-26T10:05:00.000Z' },
      { cluster: 'local', role: 'vigie_old', ts: '2026-11-01T00:00:00.000Z' },
    ]);
    // An older announcement arriving late (a replayed batch) does not move it back.
    await store.touchVigieAccounts([{ cluster: 'local', role: 'vigie_collector', ts: '2026-11-26T09:00:00.000Z' }]);
    expect(await store.loadVigieAccounts(new Date('2026-11-25T10:00:00.000Z'))).toEqual([
      { cluster: 'local', role: 'vigie_collector', ts: '2026-11-26T10:05:00.000Z' },
    ]);
  });

  it('upserts by id: a newer revision wins, an older one changes nothing, the ack survives updates', async () => {
    const store = open();
    await store.upsertAlerts([sampleAlert({ revision: 2, what: { tables: ['a', 'b'] } })]);
    await store.ack(sampleAlert().id, 'oncall', 'on it');
    await store.upsertAlerts([sampleAlert({ revision: 1, what: { tables: ['a'] } })]);
    let got = await store.getAlert(sampleAlert().id);
    expect(got?.alert.revision).toBe(2);
    expect(got?.alert.what.tables).toEqual(['a', 'b']);
    // A replayed batch can carry several states of one alert: the latest is kept, the statement does not fail.
    await store.upsertAlerts([
      sampleAlert({ revision: 4, what: { tables: ['a', 'b', 'c', 'd'] } }),
      sampleAlert({ revision: 3, what: { tables: ['a', 'b', 'c'] } }),
    ]);
    got = await store.getAlert(sampleAlert().id);
    expect(got?.alert.revision).toBe(4);
    expect(got?.alert.what.tables).toHaveLength(4);
    expect(got?.ack).toMatchObject({ by: 'oncall', comment: 'on it' });
  });

  it('keeps a held-back state as pending beside the published one until the next revision', async () => {
    const store = open();
    const id = 'off-hours-privileged-session:local:6b290a20.2a';
    const published = sampleAlert({
      id,
      rule: 'off-hours-privileged-session',
      revision: 3,
      what: { tables: [], statements: 64 },
    });
    await store.upsertAlerts([published]);
    // Held back after revision 3: the API still shows revision 3 as published, a restart gets the latest counts.
    await store.savePending([
      { ...published, what: { tables: [], statements: 90 }, lastSeen: '2026-11-26T01:15:00.000Z' },
    ]);
    expect((await store.getAlert(id))?.alert.what.statements).toBe(64);
    let restored = (await store.loadFiring()).find((a) => a.id === id);
    expect([restored?.revision, restored?.what.statements, restored?.lastSeen]).toEqual([
      3,
      90,
      '2026-11-26T01:15:00.000Z',
    ]);
    // A pending state that follows an older revision than the row's (a late write) is ignored.
    await store.savePending([{ ...published, revision: 2, what: { tables: [], statements: 70 } }]);
    expect((await store.loadFiring()).find((a) => a.id === id)?.what.statements).toBe(90);
    // The next revision carries everything: the pending copy goes.
    await store.upsertAlerts([{ ...published, revision: 4, what: { tables: [], statements: 128 } }]);
    restored = (await store.loadFiring()).find((a) => a.id === id);
    expect([restored?.revision, restored?.what.statements]).toEqual([4, 128]);
    // The same revision again (a replayed batch) keeps a pending state written after it.
    await store.savePending([{ ...published, revision: 4, what: { tables: [], statements: 150 } }]);
    await store.upsertAlerts([{ ...published, revision: 4, what: { tables: [], statements: 128 } }]);
    expect((await store.loadFiring()).find((a) => a.id === id)?.what.statements).toBe(150);
    // Resolved (out of the next test's firing list).
    await store.upsertAlerts([{ ...published, revision: 5, status: 'resolved' }]);
  });

  it('finds an alert by its URL reference (the SQL and alertRef agree, odd characters included) and keeps its revisions', async () => {
    const store = open();
    // A role name in the id, a backslash (a text::bytea cast would read it as an escape), non-ASCII.
    const id = 'bulk-read:local:role/dba_\\x41lice_é:2026-11-26T01:00:00.000Z';
    await store.upsertAlerts([
      sampleAlert({ id, revision: 1, severity: 'warning', summary: 'r1' }),
      sampleAlert({ id, revision: 2, severity: 'critical', summary: 'r2' }),
    ]);
    await store.upsertAlerts([
      sampleAlert({ id, revision: 3, status: 'resolved', severity: 'critical', summary: 'r3' }),
    ]);
    // A replayed revision changes nothing.
    await store.upsertAlerts([sampleAlert({ id, revision: 2, severity: 'info', summary: 'replayed' })]);
    const ref = alertRef(id);
    expect(ref).toMatch(/^[0-9a-f]{32}$/);
    expect((await store.getAlertByRef(ref))?.alert).toMatchObject({ id, revision: 3 });
    expect(await store.getAlertByRef('0'.repeat(32))).toBeUndefined();
    expect(await store.getAlertByRef("x' OR 1=1 --")).toBeUndefined();
    expect((await store.alertRevisions(id)).map((r) => [r.revision, r.severity, r.status, r.summary])).toEqual([
      [1, 'warning', 'firing', 'r1'],
      [2, 'critical', 'firing', 'r2'],
      [3, 'critical', 'resolved', 'r3'],
    ]);
  });

  it('filters alerts and loads the firing ones for a restart', async () => {
    const store = open();
    await store.upsertAlerts([
      sampleAlert({ id: 'bulk:1', rule: 'bulk-read', severity: 'warning', who: { login: 'contractor_bob' } }),
      sampleAlert({
        id: 'bulk:2',
        rule: 'bulk-read',
        status: 'resolved',
        who: { login: 'dba_alice', effectiveRole: 'auditor' },
        lastSeen: '2026-11-20T00:00:00.000Z',
        firstSeen: '2026-11-20T00:00:00.000Z',
      }),
    ]);
    const ids = async (f: Parameters<AlertStore['listAlerts']>[0]) =>
      (await store.listAlerts(f)).map((s) => s.alert.id);
    expect(await ids({ rule: 'bulk-read' })).toEqual(['bulk:1', 'bulk:2']);
    expect(await ids({ rule: 'bulk-read', status: 'firing' })).toEqual(['bulk:1']);
    expect(await ids({ role: 'auditor' })).toEqual(['bulk:2']);
    expect(await ids({ severity: 'warning' })).toEqual(['bulk:1']);
    expect(await ids({ since: new Date('2026-11-25T00:00:00Z'), rule: 'bulk-read' })).toEqual(['bulk:1']);
    expect(await ids({ until: new Date('2026-11-21T00:00:00Z'), rule: 'bulk-read' })).toEqual(['bulk:2']);
    expect((await store.loadFiring()).map((a) => a.id).sort()).toEqual(['bulk:1', sampleAlert().id].sort());
    expect(await store.ack('nope', 'x')).toBeUndefined();
  });

  it('keeps a session timeline idempotently, in order, and prunes it by age', async () => {
    const store = open();
    const entry = (n: number, ts: string) => ({
      cluster: 'local',
      sessionId: 'abc.1',
      eventId: `local:abc.1:${n}`,
      ts,
      kind: 'statement',
      body: { text: `SELECT $${n}` },
    });
    await store.appendTimeline([entry(2, '2026-11-26T00:00:02.000Z'), entry(1, '2026-11-26T00:00:01.000Z')]);
    await store.appendTimeline([entry(2, '2026-11-26T00:00:02.000Z'), entry(3, '2026-10-01T00:00:00.000Z')]);
    const t = await store.sessionTimeline('local', 'abc.1', 10);
    expect(t.map((e) => e.eventId)).toEqual(['local:abc.1:3', 'local:abc.1:1', 'local:abc.1:2']);
    expect(await store.pruneTimeline(new Date('2026-11-01T00:00:00Z'))).toBe(1);
    expect(await store.sessionTimeline('local', 'abc.1', 10)).toHaveLength(2);
  });

  it('remembers when and from where each role was last seen, never going back in time', async () => {
    const store = open();
    await store.touchRoles([
      { cluster: 'local', role: 'dba_alice', ts: '2026-11-26T08:00:00.000Z', clientAddr: '127.0.0.2' },
      { cluster: 'local', role: 'dba_alice', ts: '2026-11-26T09:00:00.000Z', clientAddr: '127.0.0.3' },
    ]);
    await store.touchRoles([{ cluster: 'local', role: 'dba_alice', ts: '2026-11-26T07:00:00.000Z' }]);
    const c = new pg.Client({ connectionString: RUNTIME_URL });
    await c.connect();
    const { rows } = await c.query<{ last_seen: Date; last_client_addr: string }>(
      `SELECT last_seen, last_client_addr FROM ${schema}.role_last_seen WHERE role = 'dba_alice'`,
    );
    await c.end();
    expect(rows).toHaveLength(1);
    expect(rows[0]?.last_seen.toISOString()).toBe('2026-11-26T09:00:00.000Z');
    expect(rows[0]?.last_client_addr).toBe('127.0.0.3');
  });

  it("keeps a catalog role's first listing across reads, updates its expiry, and loads the roles' history", async () => {
    const store = open();
    await store.migrate();
    await store.touchRoles([{ cluster: 'c1', role: 'dba_alice', ts: '2026-06-01T09:00:00.000Z' }]);
    await store.recordCatalogRoles('c1', [
      { role: 'dba_alice' },
      { role: 'temp_auditor', validUntil: '2026-12-31T00:00:00.000Z' },
    ]);
    const first = await store.loadRoleHistory();
    const listed = (h: typeof first, role: string) => h.catalog.find((c) => c.cluster === 'c1' && c.role === role);
    const firstListed = listed(first, 'temp_auditor')?.firstListed;
    expect(firstListed).toBeDefined();
    expect(listed(first, 'temp_auditor')?.validUntil).toBe('2026-12-31T00:00:00.000Z');
    expect(listed(first, 'dba_alice')).toEqual({ cluster: 'c1', role: 'dba_alice', firstListed: expect.any(String) });
    expect(first.lastSeen).toContainEqual({ cluster: 'c1', role: 'dba_alice', ts: '2026-06-01T09:00:00.000Z' });
    // A later read: the first listing stays (it dates the role), the expiry follows the catalog.
    await new Promise((r) => setTimeout(r, 20));
    await store.recordCatalogRoles('c1', [{ role: 'temp_auditor' }]);
    const second = await store.loadRoleHistory();
    expect(listed(second, 'temp_auditor')).toEqual({ cluster: 'c1', role: 'temp_auditor', firstListed });
  });

  it('leaves the runtime role unable to delete, truncate, drop or alter the evidence; migrations still run', async () => {
    const store = open();
    await store.migrate();
    await store.upsertAlerts([sampleAlert({ id: 'kept:1' })]);
    const runtime = await connectAs(RUNTIME_ROLE, { database: 'vigie' });
    const sqlstate = async (sql: string) =>
      runtime.query(sql).then(
        () => 'ok',
        (e: { code?: string }) => e.code,
      );
    try {
      // 42501 insufficient_privilege: refused by the server, not by Vigie's code.
      expect(await sqlstate(`DELETE FROM ${schema}.alerts`)).toBe('42501');
      expect(await sqlstate(`DELETE FROM ${schema}.role_last_seen`)).toBe('42501');
      expect(await sqlstate(`TRUNCATE ${schema}.alerts`)).toBe('42501');
      expect(await sqlstate(`DROP TABLE ${schema}.alerts`)).toBe('42501');
      expect(await sqlstate(`ALTER TABLE ${schema}.alerts ADD COLUMN note text`)).toBe('42501');
      expect(await sqlstate(`ALTER TABLE ${schema}.alerts DISABLE TRIGGER ALL`)).toBe('42501');
      expect(await sqlstate(`CREATE TABLE ${schema}.shadow (id text)`)).toBe('42501');
      expect(await sqlstate(`DELETE FROM ${schema}.schema_migrations`)).toBe('42501');
      // A GRANT by a non-owner is a warning that grants nothing: still no DELETE.
      expect(await sqlstate(`GRANT DELETE ON ${schema}.alerts TO ${RUNTIME_ROLE}`)).toBe('ok');
      expect(await sqlstate(`DELETE FROM ${schema}.alerts`)).toBe('42501');
      // What it is for still works: read, write, acknowledge; timeline retention.
      expect(await sqlstate(`UPDATE ${schema}.alerts SET acked_by = 'oncall' WHERE id = 'kept:1'`)).toBe('ok');
      expect(await sqlstate(`DELETE FROM ${schema}.session_events WHERE ts < now() - interval '30 days'`)).toBe('ok');
    } finally {
      await runtime.end();
    }
    expect((await store.getAlert('kept:1'))?.alert.id).toBe('kept:1');
    expect(await store.runtimePrivilegeProblems()).toEqual([]);
    // The owner as runtime role is what the detector refuses outside profile: local.
    const owner = createAlertStore({ connectionString: STORE_URL, schema });
    stores.push(owner);
    expect(await owner.runtimePrivilegeProblems()).toEqual(
      expect.arrayContaining([
        'owns table alerts (may DROP or ALTER it)',
        'has DELETE, TRUNCATE, REFERENCES, TRIGGER on alerts',
      ]),
    );
  });

  it("without the owner's connection, checks that the schema is current instead of migrating", async () => {
    const fresh = uniqueName('store');
    const runtimeOnly = createAlertStore({ connectionString: RUNTIME_URL, schema: fresh });
    stores.push(runtimeOnly);
    await expect(runtimeOnly.migrate()).rejects.toMatchObject({ code: 'VIGIE_STORE_MIGRATION_PENDING' });
    const withOwner = createAlertStore({
      connectionString: RUNTIME_URL,
      migrationConnectionString: STORE_URL,
      schema: fresh,
    });
    stores.push(withOwner);
    try {
      expect(await withOwner.migrate()).toEqual(MIGRATIONS.map((m) => m.version));
      expect(await runtimeOnly.migrate()).toEqual([]);
      await runtimeOnly.upsertAlerts([sampleAlert()]);
      expect((await runtimeOnly.listAlerts({})).map((a) => a.alert.id)).toEqual([sampleAlert().id]);
    } finally {
      const c = new pg.Client({ connectionString: STORE_URL });
      await c.connect();
      await c.query(`DROP SCHEMA IF EXISTS ${fresh} CASCADE`);
      await c.end();
    }
  });

  it('is audited like any other database: a superuser editing the evidence leaves an audit record', async () => {
    const store = open();
    await store.migrate();
    const id = uniqueName('evidence');
    await store.upsertAlerts([sampleAlert({ id })]);
    const admin = await connectAs('admin', { database: 'vigie', applicationName: 'vigie-test-tamper' });
    try {
      const { rowCount } = await admin.query(`DELETE FROM ${schema}.alerts WHERE id = $1`, [id]);
      expect(rowCount).toBe(1);
    } finally {
      await admin.end();
    }
    // The audit record names the table and the command, from database vigie, by the superuser.
    const record = await waitFor(
      () => {
        const lines = readFileSync(currentLogFile('jsonlog'), 'utf8').split('\n');
        return lines
          .filter((l) => l.includes(`${schema}.alerts`) && l.includes('AUDIT: SESSION'))
          .map((l) => JSON.parse(l) as { user: string; dbname: string; message: string })
          .find((r) => r.user === 'admin' && r.message.includes(',WRITE,DELETE,'));
      },
      { timeoutMs: 15_000, intervalMs: 200, what: 'the audit record of the DELETE on the alert store' },
    );
    expect(record?.dbname).toBe('vigie');
  });
});
