import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { decodeAlert, decodeDeadLetter, encodeEvent, type Alert, type VigieEvent } from '@vigie/contract';
import { createSqlAnalyzer, type SqlAnalyzer } from '@vigie/sql';
import { compilePolicy, SitePolicy } from '@vigie/policy';
import { createLogger, waitFor } from '@vigie/runtime';
import { LOCAL_KAFKA_TOPICS, readTopic, STACK, testKafka, uniqueName, type Producer } from '@vigie/testkit';
import { createDetector, type Detector } from './app.js';
import { DetectorConfig } from './config.js';
import { pgDumpSession } from '../test-support/fixtures.js';
import { alertRef } from './sinks/store/alert-store.js';

const TOKEN = randomBytes(24).toString('hex');
const STORE_URL = `postgresql://vigie:vigie@${STACK.pg.host}:${STACK.pg.port}/vigie`;
const RUNTIME_URL = `postgresql://vigie_detector:vigie_detector@${STACK.pg.host}:${STACK.pg.port}/vigie`;

interface AmAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  status: { state: string };
}

/**
 * The shipped policy's business hours, but every hour of every day is business time: these tests are about dumps,
 * and the fixture's dba_alice is privileged, so on a weekend or at night the default hours would add an
 * off-hours-privileged-session alert to the one under test.
 */
const ALWAYS_BUSINESS_HOURS = compilePolicy(
  SitePolicy.parse({
    clusters: [{ name: 'local', environment: 'production' }],
    bastion: { networks: ['127.0.0.2/32'] },
    businessHours: {
      timezone: 'Europe/Paris',
      days: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'],
      start: '00:00',
      end: '24:00',
    },
    personalData: { tables: ['public.citizens', 'social.*'] },
    roles: { service: ['app_*'], generic: ['postgres', 'admin'], vigie: ['vigie', 'vigie_collector'] },
  }),
);

/** Everything one test uses is its own: topics, group, store schema, cluster name (→ Alertmanager label). */
function isolatedConfig() {
  const id = uniqueName('det');
  const config = DetectorConfig.parse({
    profile: 'local',
    cluster: id,
    api: { token: TOKEN },
    http: { port: 0 },
    kafka: { groupId: `${id}-group`, partitions: 2, topics: LOCAL_KAFKA_TOPICS },
    topics: {
      activity: `${id}.activity`,
      egress: `${id}.egress`,
      changes: `${id}.changes`,
      alerts: `${id}.alerts`,
      deadletter: `${id}.deadletter`,
    },
    // Runtime role vigie_detector; migrations through the owner (STORE_URL, the local default).
    store: { schema: id, connectionString: RUNTIME_URL, migrationConnectionString: STORE_URL },
    alertmanager: { url: STACK.alertmanagerUrl },
    engine: { tickIntervalMs: 1000 },
    log: { level: 'warn' },
  });
  return { id, config };
}

function randomSessionId(): string {
  return `${Math.floor(Date.now() / 1000).toString(16)}.${randomBytes(2).toString('hex')}`;
}

async function api<T>(d: Detector, path: string, init: RequestInit = {}): Promise<{ status: number; body: T }> {
  const res = await fetch(`${d.url}${path}`, {
    ...init,
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json', ...(init.headers ?? {}) },
  });
  return { status: res.status, body: (await res.json()) as T };
}

async function alertmanagerAlerts(cluster: string): Promise<AmAlert[]> {
  const filter = encodeURIComponent(`cluster="${cluster}"`);
  const res = await fetch(`${STACK.alertmanagerUrl}/api/v2/alerts?filter=${filter}&silenced=true&inhibited=true`);
  return (await res.json()) as AmAlert[];
}

async function dumpAlerts(d: Detector): Promise<{ alert: Alert }[]> {
  const { body } = await api<{ alerts: { alert: Alert }[] }>(d, '/api/alerts?rule=dump');
  return body.alerts;
}

describe('detector through the real broker, store and Alertmanager', () => {
  let analyzer: SqlAnalyzer;
  let producer: Producer;
  const detectors: Detector[] = [];
  const schemas: string[] = [];

  const produce = async (topic: string, events: readonly VigieEvent[]) => {
    await producer.send({
      topic,
      // As collectors do: every event of a cluster to its cluster's partition (murmur2 of the name, kafkajs' default).
      messages: events.map((e) => ({ key: e.cluster, value: encodeEvent(e) })),
    });
  };

  const startDetector = async (config: DetectorConfig) => {
    const d = createDetector(config, {
      logger: createLogger('detector-test', { level: 'warn' }),
      policy: ALWAYS_BUSINESS_HOURS,
    });
    detectors.push(d);
    await d.start();
    return d;
  };

  beforeAll(async () => {
    analyzer = await createSqlAnalyzer();
    producer = testKafka().producer({ allowAutoTopicCreation: false });
    await producer.connect();
  });

  afterAll(async () => {
    for (const d of detectors) await d.stop().catch(() => undefined);
    await producer.disconnect();
    const admin = testKafka().admin();
    await admin.connect();
    const mine = (await admin.listTopics()).filter((t) => schemas.some((s) => t.startsWith(`${s}.`)));
    if (mine.length > 0) await admin.deleteTopics({ topics: mine }).catch(() => undefined);
    await admin.disconnect();
    const client = new pg.Client({ connectionString: STORE_URL });
    await client.connect();
    for (const s of schemas) await client.query(`DROP SCHEMA IF EXISTS ${s} CASCADE`);
    await client.end();
  });

  it('turns a pg_dump session into one alert in Kafka, the store, the API and Alertmanager', async () => {
    const { id, config } = isolatedConfig();
    schemas.push(id);
    const d = await startDetector(config);
    const seen: Alert[] = [];
    d.onAlert((a) => seen.push(a));
    const sessionId = randomSessionId();
    const events = pgDumpSession(analyzer, { cluster: id, sessionId, clientAddr: '127.0.0.3' });
    await produce(config.topics.activity, events);
    await producer.send({ topic: config.topics.activity, messages: [{ key: 'x', value: '{"kind":"statement",' }] });

    // Store + API: one dump alert, with every table, critical because 127.0.0.3 is outside the bastion.
    const [stored] = await waitFor(
      async () => {
        const list = await dumpAlerts(d);
        return list.length === 1 && list[0]?.alert.what.tables.length === 3 ? list : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 250, what: 'the dump alert with 3 tables in the store' },
    );
    const alert = stored!.alert;
    expect(alert).toMatchObject({ rule: 'dump', severity: 'critical', status: 'firing', sessionId, cluster: id });
    expect(alert.who.login).toBe('dba_alice');
    expect(alert.where).toMatchObject({ clientAddr: '127.0.0.3', clientClass: 'non-bastion' });
    expect([...alert.what.tables].sort()).toEqual(['public.citizens', 'social.benefit_claims', 'social.payments']);
    expect(alert.evidence.eventIds.length).toBeGreaterThan(0);

    const one = await api<{ alert: Alert; links: { timeline: string } }>(
      d,
      `/api/alerts/${encodeURIComponent(alert.id)}`,
    );
    expect(one.status).toBe(200);
    expect(one.body.alert.id).toBe(alert.id);

    // Timeline: the session's events before the alert were buffered and written, redacted. (The timeline and the
    // alert are written concurrently: wait for it rather than assume it is there the moment the alert is.)
    const timeline = await waitFor(
      async () => {
        const t = await api<{ events: { kind: string; body: { text?: string } }[] }>(
          d,
          `/api/sessions/${id}/${sessionId}`,
        );
        return t.status === 200 && t.body.events.length === events.length ? t : undefined;
      },
      { timeoutMs: 10_000, intervalMs: 100, what: 'the session timeline' },
    );
    expect(timeline.body.events[0]?.kind).toBe('session.start');
    expect(timeline.body.events.map((e) => e.body.text)).toContain('SET extra_float_digits TO $1');
    expect(timeline.body.events).toHaveLength(events.length);

    // Ack.
    const acked = await api<{ ack: { by: string } }>(d, `/api/alerts/${encodeURIComponent(alert.id)}/ack`, {
      method: 'POST',
      body: JSON.stringify({ by: 'oncall-test', comment: 'looking' }),
    });
    expect(acked.status).toBe(200);
    expect(acked.body.ack.by).toBe('oncall-test');
    expect((await fetch(`${d.url}/api/alerts`)).status).toBe(401);

    // Alertmanager: exactly one dump alert for this cluster, with the evidence link (the session, from outside the
    // bastion, also has its bastion-bypass alert: nothing else).
    const am = await waitFor(
      async () => {
        const all = await alertmanagerAlerts(id);
        const list = all.filter((a) => a.labels['rule'] === 'dump');
        return list.length === 1 && list[0]?.annotations['tables']?.split(', ').length === 3 ? list : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 250, what: 'the alert in Alertmanager' },
    );
    expect(am[0]?.labels).toMatchObject({
      alert_id: alert.id,
      rule: 'dump',
      severity: 'critical',
      client_class: 'non-bastion',
      database: 'app',
    });
    expect(am[0]?.annotations['evidence_url']).toBe(`${d.url}/alerts/${alertRef(alert.id)}`);
    expect(new Set((await alertmanagerAlerts(id)).map((a) => a.labels['rule']))).toEqual(
      new Set(['dump', 'bastion-bypass']),
    );

    // Kafka: the alert topic has the incident keyed by its id; the bad message went to the dead-letter topic.
    const onTopic = await readTopic(config.topics.alerts, (ms) => ms.some((m) => m.key?.toString() === alert.id));
    const last = onTopic.filter((m) => m.key?.toString() === alert.id).at(-1);
    const decoded = decodeAlert(last?.value ?? '');
    expect(decoded.ok && decoded.value.rule).toBe('dump');
    const letters = await readTopic(config.topics.deadletter, (ms) => ms.length >= 1);
    const letter = decodeDeadLetter(letters[0]?.value ?? '');
    expect(letter.ok && letter.value.reason).toBe('undecodable');
    expect(seen.some((a) => a.id === alert.id)).toBe(true);

    // Metrics.
    const metrics = await (await fetch(`${d.url}/metrics`)).text();
    expect(metrics).toMatch(new RegExp(`vigie_events_consumed_total\\{source="activity"[^}]*\\} ${events.length}\\b`));
    expect(metrics).toMatch(/vigie_records_rejected_total\{reason="undecodable"[^}]*\} 1\b/);
    expect(metrics).toMatch(/vigie_alerts_active\{rule="dump",severity="critical"[^}]*\} 1\b/);
    expect(metrics).toMatch(/vigie_alerts_total\{rule="dump",severity="critical"[^}]*\} 1\b/);
    // Rules that did not fire are there at 0 (a first alert is an increase, a panel shows 0, not "no data").
    expect(metrics).toMatch(/vigie_alerts_total\{rule="mass-write",severity="warning"[^}]*\} 0\b/);
    expect(metrics).toMatch(/vigie_alerts_total\{rule="audit-tampering",severity="info"[^}]*\} 0\b/);
  });

  it('keeps one dump alert when the detector restarts in the middle of the dump', async () => {
    const { id, config } = isolatedConfig();
    schemas.push(id);
    const sessionId = randomSessionId();
    const events = pgDumpSession(analyzer, {
      cluster: id,
      sessionId,
      clientAddr: '127.0.0.2',
      applicationName: 'renamed-tool',
      tables: ['public.citizens', 'social.benefit_claims', 'social.payments', 'social.case_notes'],
    });
    // First half: up to the first COPY; second half: the other three COPYs.
    const firstCopy = events.findIndex((e) => e.kind === 'statement' && e.sql.kind === 'copy');
    const first = events.slice(0, firstCopy + 1);
    const second = events.slice(firstCopy + 1);

    const d1 = await startDetector(config);
    await produce(config.topics.activity, first);
    const [before] = await waitFor(async () => ((await dumpAlerts(d1)).length === 1 ? dumpAlerts(d1) : undefined), {
      timeoutMs: 60_000,
      intervalMs: 250,
      what: 'the dump alert after the first half',
    });
    expect(before?.alert.what.tables).toEqual(['public.citizens']);
    expect(before?.alert.severity).toBe('warning'); // from the bastion (127.0.0.2)
    await d1.flushAlertmanager(10_000);
    await d1.stop();

    await produce(config.topics.activity, second);
    const d2 = await startDetector(config);
    const after = await waitFor(
      async () => {
        const list = await dumpAlerts(d2);
        return list.length >= 1 && list.some((a) => a.alert.what.tables.length === 4) ? list : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 250, what: 'the dump alert updated with the second half' },
    );
    expect(after).toHaveLength(1);
    expect(after[0]?.alert.id).toBe(before?.alert.id);
    expect(after[0]?.alert.revision).toBeGreaterThan(before?.alert.revision ?? 0);

    await d2.flushAlertmanager(10_000);
    const am = await waitFor(
      async () => {
        const list = await alertmanagerAlerts(id);
        return list.some((a) => a.annotations['tables']?.split(', ').length === 4) ? list : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 250, what: 'the updated alert in Alertmanager' },
    );
    expect(am.filter((a) => a.labels['rule'] === 'dump').map((a) => a.labels['alert_id'])).toEqual([before?.alert.id]);
  });
});
