import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { alertRef } from '@vigie/detector';
import { waitFor } from '@vigie/runtime';
import {
  LOCAL_KAFKA_TOPICS,
  REPO_ROOT,
  ROLES,
  STACK,
  connectAs,
  exclusive,
  queryAs,
  startService,
  testKafka,
  type RunningService,
} from '@vigie/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ALWAYS_BUSINESS_HOURS,
  createRole,
  dropRoles,
  pgProgram,
  startDetector,
  suffix,
  uniqueTopics,
  writePolicy,
  type ApiAlert,
} from './support/e2e.js';

// Issue 17, "dashboards that show something": the four real services on the ports the stack's Prometheus scrapes
// (deploy/prometheus/prometheus.yml), a real pg_dump, a bulk read from outside and from inside the bastion, writes
// the replication collector streams and one oversized statement; then every query of every dashboard panel is asked
// of the real Prometheus over the scenario's window, and each must return data. The "Active alerts" table asks
// Alertmanager what its datasource asks, and each alert must link to its evidence page.

interface Target {
  refId: string;
  expr?: string;
  datasource?: { type: string; uid: string };
  filters?: string;
  active?: boolean;
  silenced?: boolean;
  inhibited?: boolean;
}
interface Panel {
  title: string;
  type: string;
  datasource: { type: string; uid: string };
  targets: Target[];
}
interface DashboardFile {
  uid: string;
  panels: Panel[];
  templating: { list: { name: string; current?: { value: string } }[] };
  annotations: { list: { name: string; expr?: string; datasource: { uid: string } }[] };
}

const dir = join(REPO_ROOT, 'grafana', 'dashboards');
const dashboards = readdirSync(dir)
  .filter((f) => f.endsWith('.json'))
  .map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as DashboardFile);

/**
 * Queries the scenario feeds with zeros only, on purpose: each says why. Everything else must show a value above 0
 * at some point of the window, not just a series (a series of zeros is what a counter initialised at startup shows
 * when nothing happened).
 */
const ZERO_IS_THE_DATA: Record<string, string> = {
  'vigie-pipeline-health/Kafka backpressure/A': 'collectors pause reading only when Kafka is slow: 0 is healthy',
  'vigie-pipeline-health/Kafka backpressure/B': 'pending events are acknowledged within milliseconds between scrapes',
  'vigie-pipeline-health/Kafka backpressure/C': 'collectors retry sends only while Kafka is unreachable',
  'vigie-pipeline-health/Kafka backpressure/E': 'the Alertmanager queue is drained within milliseconds',
  'vigie-pipeline-health/Detector consumer lag/A': 'the detector keeps up with a test-sized load: its lag is 0',
  'vigie-pipeline-health/Delivery failures/A': 'Alertmanager is up: no push fails',
  'vigie-pipeline-health/Delivery failures/B': 'the alert store is up: no write fails',
  'vigie-pipeline-health/Delivery failures/C': 'no rule throws',
};

const SCRAPE_SECONDS = 5; // deploy/prometheus/prometheus.yml, and the datasource's timeInterval
const RATE_INTERVAL = `${4 * SCRAPE_SECONDS}s`; // Grafana's $__rate_interval: at least four scrape intervals

/** A panel's PromQL as Grafana sends it: template variables and Grafana's interval variables replaced. */
function promql(dashboard: DashboardFile, expr: string, rangeSeconds: number): string {
  let out = expr
    .replaceAll('$__rate_interval', RATE_INTERVAL)
    .replaceAll('$__interval', `${SCRAPE_SECONDS}s`)
    .replaceAll('$__range', `${rangeSeconds}s`);
  for (const v of dashboard.templating.list) {
    const value = v.current?.value ?? '';
    out = out.replaceAll(`\${${v.name}}`, value).replaceAll(`$${v.name}`, value);
  }
  return out;
}

interface Series {
  metric: Record<string, string>;
  values: [number, string][];
}

async function queryRange(expr: string, start: number, end: number): Promise<Series[]> {
  const params = new URLSearchParams({ query: expr, start: String(start), end: String(end), step: '5' });
  const res = await fetch(`${STACK.prometheusUrl}/api/v1/query_range?${params}`);
  const body = (await res.json()) as { status: string; error?: string; data?: { result: Series[] } };
  if (body.status !== 'success') throw new Error(`${expr}: ${body.error}`);
  return body.data?.result ?? [];
}

/**
 * Now on Prometheus's clock, in seconds. Not this process's: `npm run test:clocks` fakes the clock of the tests and
 * of the services they start, while the stack's Prometheus keeps real time and stamps its samples with it.
 */
async function prometheusNow(): Promise<number> {
  const res = await fetch(`${STACK.prometheusUrl}/api/v1/query?query=time()`);
  const body = (await res.json()) as { data: { result: [number, string] } };
  return Number(body.data.result[1]);
}

/** What one query returned over the window: series, and the largest finite value among them. */
async function summary(expr: string, start: number, end: number): Promise<{ series: number; max: number }> {
  const result = await queryRange(expr, start, end);
  const values = result.flatMap((s) => s.values.map(([, v]) => Number(v))).filter((v) => Number.isFinite(v));
  return { series: result.length, max: values.length > 0 ? Math.max(...values) : Number.NaN };
}

/** Every Prometheus query of every dashboard (panels and annotations), with what it must show. */
function prometheusQueries(): { key: string; dashboard: DashboardFile; expr: string; zeroOk: boolean }[] {
  return dashboards.flatMap((d) => [
    ...d.panels.flatMap((p) =>
      p.targets
        .filter((t) => (t.datasource?.uid ?? p.datasource.uid) === 'vigie-prometheus')
        .map((t) => {
          const key = `${d.uid}/${p.title}/${t.refId}`;
          return { key, dashboard: d, expr: t.expr ?? '', zeroOk: key in ZERO_IS_THE_DATA };
        }),
    ),
    ...d.annotations.list
      .filter((a) => a.datasource.uid === 'vigie-prometheus')
      .map((a) => ({ key: `${d.uid}/annotation ${a.name}`, dashboard: d, expr: a.expr ?? '', zeroOk: false })),
  ]);
}

const id = suffix();
const cluster = `dash-${id}`;
const role = { dumper: `dash_dump_${id}`, outsider: `dash_out_${id}`, insider: `dash_in_${id}` };
const topics = uniqueTopics(id);
const slot = `dash_slot_${id}`;
const publication = `dash_pub_${id}`;
const table = `public.dash_${id}`;
const services: RunningService[] = [];
let detector: Awaited<ReturnType<typeof startDetector>> | undefined;
let release: (() => void) | undefined;
let windowStart = 0;

beforeAll(async () => {
  // The services listen on their default ports, the ones Prometheus scrapes, as `vigie start` does: one at a time.
  release = await exclusive('vigie-start');
  windowStart = Math.floor(await prometheusNow());
  await createRole(role.dumper, { privileged: true });
  await createRole(role.outsider);
  await createRole(role.insider);
  const policy = writePolicy(cluster, ALWAYS_BUSINESS_HOURS);
  // 2 MB per session is "large" here (as in e2e-egress): 50,000 rows from outside the bastion cross it.
  const rules = join(mkdtempSync(join(tmpdir(), 'vigie-dash-rules-')), 'site-rules.yaml');
  writeFileSync(
    rules,
    JSON.stringify({ overrides: [{ id: 'non-bastion-egress', params: { sessionBytes: 2_000_000 } }] }),
  );
  const kafka = { brokers: [...STACK.kafkaBrokers], topics: LOCAL_KAFKA_TOPICS };
  const checkpoint = join(mkdtempSync(join(tmpdir(), 'vigie-dash-checkpoint-')), 'checkpoint.json');
  detector = await startDetector(cluster, policy, topics, { rulesFile: rules }, {}, undefined, { port: 18080 });
  services.push(
    await startService(
      'collector-pglog',
      {
        cluster,
        // Records over 64 KiB are dead-lettered (the default is 32 MiB): the scenario's one long statement is.
        source: { format: 'jsonlog', pgData: STACK.pgDataDir, maxRecordBytes: 65_536 },
        checkpoint: { file: checkpoint, startAt: 'end' },
        kafka,
        topics: { activity: topics.activity, deadletter: topics.deadletter },
        heartbeatIntervalMs: 1000,
      },
      { policyFile: policy, port: 18081 },
    ),
  );
  services.push(
    await startService(
      'collector-replication',
      {
        cluster,
        connection: { database: 'app', user: ROLES.collector, password: ROLES.collector },
        setup: { user: ROLES.superuser, password: ROLES.superuser },
        slot,
        publication,
        health: { intervalMs: 1000 },
        kafka,
        topics: { changes: topics.changes, activity: topics.activity, deadletter: topics.deadletter },
      },
      { policyFile: policy, port: 18082 },
    ),
  );
  services.push(
    await startService(
      'collector-egress',
      {
        cluster,
        serverPort: STACK.pg.port,
        postgres: { user: ROLES.collector, password: ROLES.collector },
        kafka,
        topics: { egress: topics.egress, activity: topics.activity },
        heartbeatIntervalMs: 1000,
      },
      { policyFile: policy, port: 18083 },
    ),
  );
}, 780_000); // up to 600 s waiting for the lock held by another file's `vigie start`, then the services

afterAll(async () => {
  await Promise.all([...services.map((s) => s.stop()), detector?.detector.stop()]);
  release?.();
  const admin = testKafka().admin();
  await admin.connect();
  await admin.deleteTopics({ topics: Object.values(topics) }).catch(() => undefined);
  await admin.disconnect();
  await queryAs(
    ROLES.superuser,
    `SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = '${slot}' AND NOT active`,
  ).catch(() => undefined);
  await queryAs(ROLES.superuser, `DROP PUBLICATION IF EXISTS ${publication}; DROP TABLE IF EXISTS ${table}`).catch(
    () => undefined,
  );
  await dropRoles(Object.values(role));
});

describe('Grafana dashboards, fed by the end-to-end scenario', () => {
  it('every panel that the scenario feeds shows data in the real Prometheus, and firing alerts link to their evidence', async () => {
    const api = detector!;
    // The scenario: a dump, the same bulk read from outside and from inside the bastion, writes, one oversized record.
    await pgProgram('pg_dump', role.dumper, ['app']);
    for (const [r, localAddress] of [
      [role.outsider, '127.0.0.3'],
      [role.insider, '127.0.0.2'],
    ] as const) {
      const client = await connectAs(r, { localAddress });
      try {
        const { rowCount } = await client.query('SELECT * FROM public.citizens ORDER BY id LIMIT 50000');
        expect(rowCount).toBe(50_000);
        if (r === role.outsider) await client.query(`SELECT length('${'x'.repeat(100_000)}') AS long_statement`);
      } finally {
        await client.end();
      }
    }
    await queryAs(
      ROLES.superuser,
      `CREATE TABLE ${table} (id int PRIMARY KEY, note text);
       INSERT INTO ${table} SELECT g, 'n' FROM generate_series(1, 100) g;
       UPDATE ${table} SET note = 'm' WHERE id <= 10;`,
    );

    const dump = await waitFor(async () => (await api.alertsFor(role.dumper)).find((a) => a.rule === 'dump'), {
      timeoutMs: 60_000,
      intervalMs: 500,
      what: 'the dump alert',
    });
    const egress = await waitFor(
      async () => (await api.alertsFor(role.outsider)).find((a: ApiAlert) => a.rule === 'non-bastion-egress'),
      { timeoutMs: 60_000, intervalMs: 500, what: 'the non-bastion-egress alert' },
    );

    // The "Active alerts" table: what its datasource sends to Alertmanager, and each row's evidence link.
    const alertTable = dashboards
      .flatMap((d) => d.panels)
      .find((p) => p.datasource.uid === 'vigie-alertmanager-alerts' && p.type === 'table');
    expect(alertTable, 'an alert table backed by the Alertmanager datasource').toBeDefined();
    const target = alertTable!.targets[0]!;
    const params = new URLSearchParams({
      active: String(target.active),
      silenced: String(target.silenced),
      inhibited: String(target.inhibited),
    });
    for (const filter of (target.filters ?? '').split(',').filter(Boolean)) params.append('filter', filter);
    const firing = await waitFor(
      async () => {
        const res = await fetch(`${STACK.alertmanagerUrl}/api/v2/alerts?${params}`);
        const alerts = (await res.json()) as { labels: Record<string, string>; annotations: Record<string, string> }[];
        const ours = alerts.filter((a) => a.labels['cluster'] === cluster);
        return [dump.id, egress.id].every((i) => ours.some((a) => a.labels['alert_id'] === i)) ? ours : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 500, what: "the scenario's alerts in Alertmanager, as the table asks for them" },
    );
    for (const a of firing) {
      const evidence = a.annotations['evidence_url'] ?? '';
      // The evidence page is the detector's own, for this very alert (the table links to it as given): named by the
      // alert's reference, behind the sign-in page; its JSON twin answers the token with this alert.
      expect(evidence, evidence).toBe(`http://127.0.0.1:18080/alerts/${alertRef(a.labels['alert_id'] ?? '')}`);
      const page = await fetch(evidence, { redirect: 'manual' });
      expect([page.status, page.headers.get('location')], evidence).toEqual([303, expect.stringMatching(/^\/signin/)]);
      const json = await fetch(a.annotations['api_url'] ?? '', { headers: { authorization: `Bearer ${api.token}` } });
      expect(json.status, a.annotations['api_url']).toBe(200);
      expect(((await json.json()) as { alert: { id: string } }).alert.id).toBe(a.labels['alert_id']);
    }

    // Every Prometheus query of every panel and annotation, over the scenario's window, as Grafana would ask it.
    const queries = prometheusQueries();
    expect(queries.length).toBeGreaterThan(20);
    const check = async () => {
      const end = Math.ceil(await prometheusNow());
      const results = await Promise.all(
        queries.map(async (q) => {
          const expr = promql(q.dashboard, q.expr, end - windowStart);
          expect(expr, q.key).not.toContain('$');
          const s = await summary(expr, windowStart, end);
          const ok = s.series > 0 && (q.zeroOk ? Number.isFinite(s.max) : s.max > 0);
          return { key: q.key, expr, ...s, ok };
        }),
      );
      return results;
    };
    let last: Awaited<ReturnType<typeof check>> = [];
    await waitFor(
      async () => {
        last = await check();
        return last.every((r) => r.ok);
      },
      { timeoutMs: 90_000, intervalMs: 2_500, what: 'every panel to show data' },
    ).catch(() => undefined);
    expect(last.filter((r) => !r.ok)).toEqual([]);
    // What each part of the scenario fed, series by series: every collector, every source, both client classes, the
    // oversized statement's reason (the panels above sum them; one part alone would have made them non-empty).
    const end = Math.ceil(await prometheusNow());
    const by = async (expr: string, label: string) =>
      Object.fromEntries(
        (await queryRange(expr, windowStart, end)).map((s) => [
          s.metric[label] ?? '',
          Math.max(...s.values.map(([, v]) => Number(v)).filter((v) => Number.isFinite(v))),
        ]),
      );
    const produced = await by('sum by (collector) (vigie_collector_events_produced_total)', 'collector');
    for (const service of ['collector-pglog', 'collector-replication', 'collector-egress'])
      expect(produced[service], service).toBeGreaterThan(0);
    const consumed = await by('sum by (source) (vigie_events_consumed_total)', 'source');
    for (const source of ['activity', 'changes', 'egress']) expect(consumed[source], source).toBeGreaterThan(0);
    const bytes = await by('sum by (client_class) (vigie_egress_bytes_total)', 'client_class');
    expect(bytes['non-bastion']).toBeGreaterThan(2_000_000);
    expect(bytes['bastion']).toBeGreaterThan(2_000_000);
    const rejected = await by('sum by (reason) (vigie_records_rejected_total{service="collector-pglog"})', 'reason');
    // At least: files run in parallel write the same server log, and another one's statement may be as long.
    expect(rejected['oversized_record']).toBeGreaterThanOrEqual(1);
    // The list of panels allowed to show only zeros names real panels (no stale excuse).
    const keys = new Set(queries.map((q) => q.key));
    for (const key of Object.keys(ZERO_IS_THE_DATA)) expect(keys.has(key), key).toBe(true);
  });
});
