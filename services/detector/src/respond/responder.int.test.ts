import pg from 'pg';
import type { ResponseAction } from '@vigie/contract';
import { compilePolicy, SitePolicy } from '@vigie/policy';
import { createLogger, waitFor } from '@vigie/runtime';
import { queryAs, ROLES, STACK, uniqueName } from '@vigie/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sampleAlert } from '../../test-support/fixtures.js';
import { createAlertStore, type AlertStore } from '../sinks/store/alert-store.js';
import { createResponder, type Responder } from './responder.js';

// The responder against the real cluster, as the local stack's vigie_responder (pg_signal_backend, CREATEROLE): the
// locks it finds in the store when it starts — a detector restarted while logins were locked.
const STORE_URL = `postgresql://vigie:vigie@${STACK.pg.host}:${STACK.pg.port}/vigie`;
const RUNTIME_URL = `postgresql://vigie_detector:vigie_detector@${STACK.pg.host}:${STACK.pg.port}/vigie`;
const RESPONDER_URL = `postgresql://vigie_responder:vigie_responder@${STACK.pg.host}:${STACK.pg.port}/postgres`;
const schema = uniqueName('respond');
const overdue = uniqueName('rsp_overdue');
const later = uniqueName('rsp_later');
const policy = compilePolicy(
  SitePolicy.parse({ clusters: [{ name: 'local', environment: 'production' }], roles: { vigie: ['vigie*'] } }),
);
let store: AlertStore;
let responder: Responder | undefined;
const annotated: { alertId: string; actions: readonly ResponseAction[] }[] = [];

async function canLogIn(role: string): Promise<boolean> {
  const { rows } = await queryAs<{ ok: boolean }>(
    ROLES.superuser,
    'SELECT rolcanlogin AS ok FROM pg_roles WHERE rolname = $1',
    [role],
  );
  return rows[0]?.ok === true;
}

beforeAll(async () => {
  store = createAlertStore({ connectionString: RUNTIME_URL, migrationConnectionString: STORE_URL, schema });
  await store.migrate();
  for (const role of [overdue, later]) await queryAs(ROLES.superuser, `CREATE ROLE ${role} NOLOGIN`);
});

afterAll(async () => {
  await responder?.stop();
  await store?.close();
  for (const role of [overdue, later]) await queryAs(ROLES.superuser, `DROP ROLE IF EXISTS ${role}`);
  const c = new pg.Client({ connectionString: STORE_URL });
  await c.connect();
  await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await c.end();
});

describe('responder on the real cluster', () => {
  it('at start restores overdue locks at once and the others at their expiry, on record', async () => {
    // What a previous detector left: two logins locked, one lock expired while it was down.
    const expiresAt = new Date(Date.now() + 4000).toISOString();
    await store.saveLock({
      cluster: 'local',
      role: overdue,
      alertId: 'alert-overdue',
      until: new Date(Date.now() - 60_000).toISOString(),
    });
    await store.saveLock({ cluster: 'local', role: later, alertId: 'alert-later', until: expiresAt });
    responder = createResponder({
      connectionString: RESPONDER_URL,
      cluster: 'local',
      policy,
      store,
      logger: createLogger('test', { level: 'silent' }),
      annotate: async (alertId, actions) => {
        annotated.push({ alertId, actions });
      },
    });
    await responder.start();
    await waitFor(() => canLogIn(overdue), { timeoutMs: 5000, intervalMs: 100, what: 'the overdue lock lifted' });
    expect(await canLogIn(later)).toBe(false);
    await waitFor(() => canLogIn(later), { timeoutMs: 15_000, intervalMs: 100, what: 'the later lock lifted' });
    expect(Date.now()).toBeGreaterThanOrEqual(Date.parse(expiresAt));
    expect(await store.activeLocks()).toEqual([]);
    expect(annotated.map((a) => [a.alertId, a.actions.map((x) => `${x.action}:${x.result}:${x.mode}`)])).toEqual([
      ['alert-overdue', ['unlock:done:expiry']],
      ['alert-later', ['unlock:done:expiry']],
    ]);
    const trail = await queryAs<{ action: string; result: string; role: string; dry_run: boolean }>(
      ROLES.superuser,
      `SELECT action, result, role, dry_run FROM ${schema}.response_actions WHERE alert_id = 'alert-later'`,
      [],
      { database: 'vigie' },
    );
    expect(trail.rows).toEqual([{ action: 'unlock', result: 'done', role: later, dry_run: false }]);
  });

  it('reads the catalog: a superuser is refused (and PostgreSQL would refuse CREATEROLE anyway)', async () => {
    const outcome = await responder?.respond(sampleAlert({ who: { login: ROLES.superuser } }), {
      terminate: false,
      lock: true,
      dryRun: false,
      by: 'oncall',
      mode: 'manual',
    });
    expect(outcome).toMatchObject({
      status: 'refused',
      actions: [
        {
          action: 'lock',
          result: 'refused',
          detail: `${ROLES.superuser} is a superuser (response.allowSuperuser is false)`,
        },
      ],
    });
    expect(await canLogIn(ROLES.superuser)).toBe(true);
  });
});
