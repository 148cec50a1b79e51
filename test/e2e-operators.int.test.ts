import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from '@vigie/runtime';
import { decodeEvent } from '@vigie/contract';
import { ROLES, connectAs, queryAs, readTopic, type KafkaMessage } from '@vigie/testkit';
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

// Real clients against the real cluster, through the real collector-pglog and detector processes, with business
// hours covering every minute of every day: only the access pattern can raise an alert here.
const id = suffix();
const cluster = `e2e-${id}`;
const role = {
  dumper: `e2e_dump_${id}`,
  renamedDumper: `e2e_rdump_${id}`,
  copier: `e2e_copy_${id}`,
  outsider: `e2e_out_${id}`,
  insider: `e2e_in_${id}`,
  service: `app_e2e_${id}`,
};
const benchDb = `e2e_pgbench_${id}`;
let pipeline: Pipeline;
// The demo schema's tables (deploy/local/sql/app-schema.sql); other tests may add and drop their own in `app`.
const appTables = [
  'public.citizens',
  'public.communes',
  'social.benefit_claims',
  'social.benefit_types',
  'social.case_notes',
  'social.payments',
];

/** A statement event of the service account (only those are decoded: the topic carries every other test's traffic). */
function isServiceStatement(m: KafkaMessage | undefined): boolean {
  if (!m?.value?.includes(role.service)) return false;
  const decoded = decodeEvent(m.value);
  return decoded.ok && decoded.value.kind === 'statement' && decoded.value.session?.user === role.service;
}

async function alertsOf(r: string, rule: string): Promise<ApiAlert[]> {
  return (await pipeline.alertsFor(r)).filter((a) => a.rule === rule);
}

beforeAll(async () => {
  await createRole(role.dumper, { privileged: true });
  await createRole(role.renamedDumper, { privileged: true });
  await createRole(role.copier);
  await createRole(role.outsider);
  await createRole(role.insider);
  await queryAs(ROLES.superuser, `CREATE ROLE ${role.service} LOGIN PASSWORD '${role.service}'`);
  await queryAs(ROLES.superuser, `CREATE DATABASE ${benchDb} OWNER ${role.service}`);
  const policy = writePolicy(cluster, ALWAYS_BUSINESS_HOURS);
  pipeline = await startPipeline(cluster, policy);
}, 180_000);

afterAll(async () => {
  await pipeline?.stop();
  await queryAs(ROLES.superuser, `DROP DATABASE IF EXISTS ${benchDb} WITH (FORCE)`).catch(() => undefined);
  await dropRoles(Object.values(role));
});

describe('end to end: operators against the real cluster', () => {
  it('pg_dump of app raises exactly one dump alert, in the API and in Alertmanager', async () => {
    const out = await pgProgram('pg_dump', role.dumper, ['app']);
    expect(out).toContain('COPY public.citizens');
    const alert = await waitFor(
      async () => {
        const [a] = await alertsOf(role.dumper, 'dump');
        return a && appTables.every((t) => a.what.tables.includes(t)) ? a : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 500, what: 'a dump alert listing every table of app' },
    );
    await pipeline.drained();
    const dumps = await alertsOf(role.dumper, 'dump');
    expect(dumps.map((a) => a.id)).toEqual([alert.id]);
    expect(alert.where.clientClass).toBe('non-bastion');
    expect(alert.severity).toBe('critical');
    expect(alert.summary).toContain(role.dumper);
    const inAlertmanager = await waitFor(async () => (await pipeline.alertmanagerAlert(alert.id))[0], {
      timeoutMs: 30_000,
      intervalMs: 500,
      what: 'the dump alert in Alertmanager',
    });
    expect(inAlertmanager.labels).toMatchObject({ rule: 'dump', severity: 'critical', cluster });
    expect(inAlertmanager.annotations['summary']).toBe(alert.summary);
  });

  it('pg_dump with a renamed application_name is still recognised as one dump', async () => {
    await pgProgram('pg_dump', role.renamedDumper, ['app'], { PGAPPNAME: 'nightly-report' });
    const alert = await waitFor(
      async () => {
        const [a] = await alertsOf(role.renamedDumper, 'dump');
        return a && appTables.every((t) => a.what.tables.includes(t)) ? a : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 500, what: 'a dump alert for the renamed pg_dump' },
    );
    await pipeline.drained();
    expect((await alertsOf(role.renamedDumper, 'dump')).map((a) => a.id)).toEqual([alert.id]);
    expect(alert.where.applicationName).toBe('nightly-report');
  });

  it('psql \\copy of a personal-data table raises one alert', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'vigie-e2e-copy-')), 'citizens.csv');
    await pgProgram('psql', role.copier, ['-d', 'app', '-c', `\\copy public.citizens TO '${file}' CSV`]);
    const alert = await waitFor(async () => (await alertsOf(role.copier, 'dump'))[0], {
      timeoutMs: 60_000,
      intervalMs: 500,
      what: 'an alert for the \\copy',
    });
    await pipeline.drained();
    // One alert about the copy (not a bulk read too); the session's place is bastion-bypass's own alert.
    expect((await pipeline.alertsFor(role.copier)).filter((a) => a.rule !== 'bastion-bypass')).toHaveLength(1);
    expect(alert.what.tables).toEqual(['public.citizens']);
  });

  it('reading the whole personal-data table: critical outside the bastion, warning from it', async () => {
    for (const [r, localAddress] of [
      [role.outsider, '127.0.0.3'],
      [role.insider, '127.0.0.2'],
    ] as const) {
      const client = await connectAs(r, { localAddress, applicationName: 'psql' });
      try {
        const { rowCount } = await client.query('SELECT * FROM public.citizens');
        expect(rowCount).toBeGreaterThanOrEqual(100_000);
      } finally {
        await client.end();
      }
    }
    const outside = await waitFor(async () => (await alertsOf(role.outsider, 'bulk-read'))[0], {
      timeoutMs: 60_000,
      intervalMs: 500,
      what: 'a bulk-read alert for the outsider',
    });
    const inside = await waitFor(async () => (await alertsOf(role.insider, 'bulk-read'))[0], {
      timeoutMs: 60_000,
      intervalMs: 500,
      what: 'a bulk-read alert for the bastion user',
    });
    expect({ severity: outside.severity, client: outside.where.clientAddr, cls: outside.where.clientClass }).toEqual({
      severity: 'critical',
      client: '127.0.0.3',
      cls: 'non-bastion',
    });
    expect({ severity: inside.severity, client: inside.where.clientAddr, cls: inside.where.clientClass }).toEqual({
      severity: 'warning',
      client: '127.0.0.2',
      cls: 'bastion',
    });
  });

  it('pgbench as a service account during business hours raises no alert', async () => {
    await pgProgram('pgbench', role.service, ['-i', '-s', '1', '-q', benchDb]);
    const out = await pgProgram('pgbench', role.service, ['-c', '2', '-T', '5', '-n', benchDb]);
    const tps = /tps = ([\d.]+)/.exec(out);
    expect(Number(tps?.[1])).toBeGreaterThan(10);
    await pipeline.drained();
    // The pipeline did see the service account's statements: zero alerts is a decision, not a gap.
    let statements = 0;
    let read = 0;
    await readTopic(
      pipeline.topics.activity,
      (messages) => {
        // Called with everything read so far, once per batch: look only at what arrived since the last call.
        for (; read < messages.length; read += 1) if (isServiceStatement(messages[read])) statements += 1;
        return statements >= 1000;
      },
      { timeoutMs: 30_000 },
    );
    expect(statements).toBeGreaterThanOrEqual(1000);
    expect(await pipeline.alertsFor(role.service)).toEqual([]);
  });
});
