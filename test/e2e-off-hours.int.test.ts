import { waitFor } from '@vigie/runtime';
import { connectAs } from '@vigie/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  NEVER_BUSINESS_HOURS,
  type Pipeline,
  createRole,
  dropRoles,
  startPipeline,
  suffix,
  writePolicy,
} from './support/e2e.js';

// No day is a business day: the sessions below are off hours whatever the day and hour of PostgreSQL's clock (the
// events carry its timestamps) or of this process's.
const id = suffix();
const cluster = `e2e-offhours-${id}`;
const privileged = `e2e_priv_${id}`;
const ordinary = `e2e_plain_${id}`;
let pipeline: Pipeline;

beforeAll(async () => {
  // Roles exist before the detector starts, so its catalog discovery sees the privileged one.
  await createRole(privileged, { privileged: true });
  await createRole(ordinary);
  const policy = writePolicy(cluster, NEVER_BUSINESS_HOURS);
  pipeline = await startPipeline(cluster, policy);
}, 180_000);

afterAll(async () => {
  await pipeline?.stop();
  await dropRoles([privileged, ordinary]);
});

describe('end to end: off-hours privileged session', () => {
  it('raises one alert for the privileged role and none for an ordinary one', async () => {
    for (const r of [privileged, ordinary]) {
      const client = await connectAs(r, { localAddress: '127.0.0.2', applicationName: 'psql' });
      try {
        await client.query('SELECT id FROM public.citizens WHERE id = 7');
      } finally {
        await client.end();
      }
    }
    const alert = await waitFor(
      async () => (await pipeline.alertsFor(privileged)).find((a) => a.rule === 'off-hours-privileged-session'),
      { timeoutMs: 60_000, intervalMs: 500, what: 'an off-hours alert for the privileged role' },
    );
    await pipeline.drained();
    const all = (await pipeline.alertsFor(privileged)).filter((a) => a.rule === 'off-hours-privileged-session');
    expect(all.map((a) => a.id)).toEqual([alert.id]);
    expect(alert.who.login).toBe(privileged);
    expect(alert.where.clientClass).toBe('bastion');
    expect(await pipeline.alertsFor(ordinary)).toEqual([]);
  });
});
