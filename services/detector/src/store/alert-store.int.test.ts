import { afterAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { STACK, uniqueName } from '@vigie/testkit';
import { sampleAlert } from '../sinks/fixtures.js';
import { createAlertStore, type AlertStore } from './alert-store.js';

const STORE_URL = `postgresql://vigie:vigie@${STACK.pg.host}:${STACK.pg.port}/vigie`;

describe('alert store on the real PostgreSQL', () => {
  const schema = uniqueName('store');
  const stores: AlertStore[] = [];
  const open = () => {
    const s = createAlertStore({ connectionString: STORE_URL, schema });
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
    expect([...a, ...b]).toEqual([1, 2]);
    expect(await open().migrate()).toEqual([]);
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
    const c = new pg.Client({ connectionString: STORE_URL });
    await c.connect();
    const { rows } = await c.query<{ last_seen: Date; last_client_addr: string }>(
      `SELECT last_seen, last_client_addr FROM ${schema}.role_last_seen WHERE role = 'dba_alice'`,
    );
    await c.end();
    expect(rows).toHaveLength(1);
    expect(rows[0]?.last_seen.toISOString()).toBe('2026-11-26T09:00:00.000Z');
    expect(rows[0]?.last_client_addr).toBe('127.0.0.3');
  });
});
