import { decodeEvent, type StatementEvent, type VigieEvent } from '@vigie/contract';
import { waitFor } from '@vigie/runtime';
import { ROLES, connectAs, queryAs, readTopic, testKafka } from '@vigie/testkit';
import type { KafkaMessage } from 'kafkajs';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Pipeline, createRole, dropRoles, startPipeline, suffix, writePolicy } from './support/e2e.js';

// The real cluster, the real collector-pglog and detector processes. A non-privileged role (SELECT on the demo
// tables, nothing else) forges audit records, changes roles inside transactions it rolls back, and puts synthetic
// personal data through every path that reaches the log; then every topic, the alert store, the API and both
// services' logs are searched for that data.
const id = suffix();
const cluster = `e2e-${id}`;
const role = { forger: `e2e_forge_${id}`, target: `e2e_target_${id}`, leaker: `e2e_leak_${id}` };
let pipeline: Pipeline;

// Synthetic personal data (valid-looking, owned by nobody). Each value is searched for as written.
const person = {
  nir: '2850375123456' + '78',
  email: `zoe.vigietest.${id}@exemple.fr`,
  iban: 'FR7630006000011234567890189',
  first: 'Marguerite',
  last: `Vigietest${id}`,
  phone: '0612345678',
};
const secrets = [
  person.nir,
  person.email,
  person.iban,
  person.iban.slice(4),
  `${person.first} ${person.last}`,
  person.last,
  person.phone,
  person.nir.slice(0, 13),
];

beforeAll(async () => {
  await createRole(role.forger);
  await createRole(role.leaker);
  await queryAs(
    ROLES.superuser,
    `CREATE ROLE ${role.target} NOLOGIN; GRANT ${role.target} TO ${role.forger}; GRANT SELECT ON public.citizens TO ${role.target}`,
  );
  const policy = writePolicy(cluster, {
    timezone: 'UTC',
    days: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'],
    start: '00:00',
    end: '24:00',
  });
  pipeline = await startPipeline(cluster, policy);
}, 180_000);

afterAll(async () => {
  await pipeline?.stop();
  await dropRoles(Object.values(role));
});

/** Every event of the scenario's activity topic, decoded, once the pipeline is drained. */
async function activity(): Promise<{ events: VigieEvent[]; raw: string[] }> {
  const raw = await readAll(pipeline.topics.activity);
  const events: VigieEvent[] = [];
  for (const text of raw) {
    const d = decodeEvent(text);
    if (d.ok) events.push(d.value);
  }
  return { events, raw };
}

/** Every message of a topic as text, at least all those it held when called (the topics are this file's own). */
async function readAll(topic: string): Promise<string[]> {
  const admin = testKafka().admin();
  await admin.connect();
  const offsets = await admin.fetchTopicOffsets(topic).finally(() => admin.disconnect());
  const total = offsets.reduce((n, o) => n + Number(o.high) - Number(o.low), 0);
  const messages: KafkaMessage[] =
    total === 0 ? [] : await readTopic(topic, (m) => m.length >= total, { timeoutMs: 30_000 });
  // The collector keeps reading the shared server log (other tests' sessions): more may have come meanwhile.
  expect(messages.length).toBeGreaterThanOrEqual(total);
  return messages.map((m) => m.value?.toString('utf8') ?? '');
}

const ofUser = (events: VigieEvent[], user: string) => events.filter((e) => e.session?.user === user);

describe('end to end: forged audit records and the role in effect', () => {
  it('a forged SET ROLE vigie is a critical alert, and the COPY after it is still analysed and alerted', async () => {
    const client = await connectAs(role.forger, { applicationName: 'psql' });
    await client.query(`DO $$BEGIN RAISE LOG 'AUDIT: SESSION,1,1,MISC,SET,,,SET ROLE vigie,<none>'; END$$`);
    await client.query(
      `DO $$BEGIN RAISE LOG 'disconnection: session time: 0:00:01.000 user=${role.forger} database=app host=127.0.0.1 port=1'; END$$`,
    );
    await client.query('COPY public.citizens (id, nir) TO STDOUT');
    await client.end();
    // The second forged record may be held back until the session's end publishes its final figures (revisions).
    const forged = await waitFor(
      async () =>
        (await pipeline.alertsFor(role.forger)).find(
          (a) => a.rule === 'forged-audit-record' && a.what.statements === 2,
        ),
      { timeoutMs: 60_000, intervalMs: 500, what: 'the forged-audit-record alert with both forged records' },
    );
    expect(forged.severity).toBe('critical');
    expect(forged.what.statements).toBe(2);
    expect(forged.summary).toContain('pgaudit record (SET)');
    const dump = await waitFor(async () => (await pipeline.alertsFor(role.forger)).find((a) => a.rule === 'dump'), {
      timeoutMs: 60_000,
      intervalMs: 500,
      what: 'the COPY still alerted',
    });
    expect(dump.what.tables).toEqual(['public.citizens']);
    expect(dump.who).toMatchObject({ login: role.forger, effectiveRole: role.forger });
    expect(dump.sessionId).toBe(forged.sessionId);
  });

  it('follows the role through ROLLBACK, SET LOCAL, savepoints and RESET ROLE on the real cluster', async () => {
    const client = await connectAs(role.forger, { applicationName: `roles_${id}` });
    const probe = (n: number) => client.query(`SELECT count(*) FROM public.citizens WHERE id = ${n}`);
    const truth: string[] = [];
    const who = async () => truth.push((await client.query<{ u: string }>('SELECT current_user AS u')).rows[0]!.u);
    await client.query('BEGIN');
    await client.query(`SET ROLE ${role.target}`);
    await client.query('SELECT 1/0').catch(() => undefined);
    await client.query('ROLLBACK');
    await probe(1);
    await who();
    await client.query(`BEGIN; SET LOCAL ROLE ${role.target}`);
    await probe(2);
    await who();
    await client.query('COMMIT');
    await probe(3);
    await who();
    await client.query(`BEGIN; SAVEPOINT a; SET ROLE ${role.target}`);
    await client.query('ROLLBACK TO SAVEPOINT a; COMMIT');
    await probe(4);
    await who();
    await client.query(`SET ROLE ${role.target}`);
    await probe(5);
    await who();
    await client.query('SET ROLE NONE');
    await probe(6);
    await who();
    await client.end();
    await pipeline.drained();
    const probes = ofUser((await activity()).events, role.forger).filter(
      (e): e is StatementEvent =>
        e.kind === 'statement' &&
        e.session?.applicationName === `roles_${id}` &&
        e.sql.redacted === 'SELECT count(*) FROM public.citizens WHERE id = $1',
    );
    // What the session's statements were, should a probe be missing (a message for the failure).
    const seen = ofUser((await activity()).events, role.forger).map((e) =>
      e.kind === 'statement' ? `${e.session?.applicationName} ${e.sql.redacted}` : e.kind,
    );
    expect(probes.length, seen.join('\n')).toBe(6);
    expect(probes.map((e) => e.effectiveRole)).toEqual(truth);
    expect(truth).toEqual([role.forger, role.target, role.forger, role.forger, role.target, role.forger]);
  });
});

describe('end to end: personal data through every path that reaches the log', () => {
  it('leaves no NIR, e-mail, IBAN, name or phone in any topic, the store, the API or the service logs', async () => {
    const { nir, email, iban, first, last, phone } = person;
    // application_name chosen by the client, holding personal data.
    const client = await connectAs(role.leaker, { applicationName: `export ${email} ${nir}` });
    const attempt = (sql: string, params: unknown[] = []) => client.query(sql, params).catch(() => undefined);
    // Successful statements with literals and bound parameters.
    await attempt(`SELECT id FROM public.citizens WHERE nir = '${nir}' OR email = '${email}' OR phone = '${phone}'`);
    await attempt('SELECT id FROM public.citizens WHERE last_name = $1 OR email = $2', [last, email]);
    await attempt(`SELECT count(*) FROM social.payments WHERE iban = '${iban}'`);
    // Errors whose message quotes the value.
    await attempt(`SELECT '{"email": "${email}", "nir": ${nir}}'::int`);
    await attempt(`SELECT '{${first} ${last},${phone}'::text[]`);
    await attempt(`SELECT '${iban}'::int`);
    await attempt(`SELECT to_date('${first} ${last}', 'YYYY')`);
    // User-raised messages: RAISE EXCEPTION, RAISE with another SQLSTATE, RAISE LOG, ASSERT.
    await attempt(`DO $$BEGIN RAISE EXCEPTION 'client ${first} ${last}, IBAN ${iban}, tel ${phone}'; END$$`);
    await attempt(
      `DO $$BEGIN RAISE EXCEPTION USING ERRCODE = '42501', MESSAGE = 'permission denied for table t_${nir}'; END$$`,
    );
    await attempt(`DO $$BEGIN RAISE LOG 'looked up ${email} ${nir}'; END$$`);
    await attempt(`DO $$BEGIN ASSERT false, 'nir ${nir}'; END$$`);
    // A forged audit record carrying personal data.
    await attempt(
      `DO $$BEGIN RAISE LOG 'AUDIT: SESSION,1,1,READ,SELECT,,,SELECT * FROM citizens WHERE email = ''${email}'',<none>'; END$$`,
    );
    // Statements that do not parse, values without quotes, in double quotes, under standard_conforming_strings=off.
    await attempt(`SELECT * FROM public.citizens WHERE email = ${email} AND nir = ${nir} OR name = ${first} ${last}`);
    await attempt(`SELECT id FROM public.citizens WHERE email = "${email}" OR last_name = "${first} ${last}"`);
    await attempt(`SELECT * FROM social.payments WHERE iban = ${iban}`);
    await attempt('SET standard_conforming_strings = off');
    await attempt(`SELECT count(*) FROM public.citizens WHERE email = 'it\\'s ${email}' OR phone = '${phone}'`);
    await attempt(`SELECT count(*) FROM public.citizens WHERE last_name = E'${last}\\'' OR nir = '${nir}'`);
    await client.end();
    // A login whose user name is personal data (typed into the wrong field): the role does not exist.
    const ghost = new pg.Client({
      host: '127.0.0.1',
      port: 55432,
      user: `${last}${phone}`,
      password: nir,
      database: 'app',
    });
    await ghost.connect().then(
      () => ghost.end(),
      () => undefined,
    );
    await pipeline.drained();

    const { events, raw: activityRaw } = await activity();
    const mine = ofUser(events, role.leaker);
    // The paths were really exercised: statements, errors (templates), the forged record.
    const kinds = new Set(mine.map((e) => e.kind));
    for (const k of ['session.start', 'statement', 'session.error', 'record.forged', 'session.end']) {
      expect(kinds.has(k as VigieEvent['kind']), k).toBe(true);
    }
    expect(mine.filter((e) => e.kind === 'session.error').length).toBeGreaterThanOrEqual(10);
    expect(events.some((e) => e.kind === 'auth.failure' && e.reason === 'role does not exist')).toBe(true);
    await waitFor(async () => (await pipeline.alertsFor(role.leaker)).length > 0, {
      timeoutMs: 60_000,
      intervalMs: 500,
      what: 'alerts about the leaking session (a record.forged at least)',
    });

    // Everything Vigie keeps or says about it.
    const texts: [string, string][] = [];
    for (const m of activityRaw) texts.push(['activity topic', m]);
    for (const m of await readAll(pipeline.topics.deadletter)) texts.push(['dead-letter topic', m]);
    for (const m of await readAll(pipeline.topics.alerts)) texts.push(['alerts topic', m]);
    const store = await queryAs<{ t: string; row: string }>(
      'vigie',
      `SELECT table_name AS t FROM information_schema.tables WHERE table_schema = $1`,
      [pipeline.storeSchema],
      { database: 'vigie' },
    );
    for (const { t } of store.rows) {
      const rows = await queryAs<{ row: string }>(
        'vigie',
        `SELECT row_to_json(x)::text AS row FROM "${pipeline.storeSchema}"."${t}" x`,
        [],
        { database: 'vigie' },
      );
      for (const r of rows.rows) texts.push([`store ${t}`, r.row]);
    }
    expect(store.rows.length).toBeGreaterThan(0);
    const api = async (path: string) => {
      const res = await fetch(`http://127.0.0.1:${pipeline.detector.port}${path}`, {
        headers: { authorization: `Bearer ${pipeline.token}` },
      });
      const body = await res.text();
      texts.push([`API ${path}`, body]);
      return body;
    };
    const list = JSON.parse(await api('/api/alerts?limit=500')) as { alerts: { alert: { id: string } }[] };
    for (const { alert } of list.alerts) await api(`/api/alerts/${encodeURIComponent(alert.id)}`);
    for (const sid of new Set(mine.map((e) => e.session?.id))) await api(`/api/sessions/${cluster}/${sid}`);
    texts.push(['collector log', pipeline.collector.log()], ['detector log', pipeline.detector.log()]);

    const hits = texts.flatMap(([where, text]) =>
      secrets.filter((s) => text.includes(s)).map((s) => `${s} in ${where}`),
    );
    expect(hits).toEqual([]);
  });
});
