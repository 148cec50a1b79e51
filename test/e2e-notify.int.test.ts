import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { alertRef } from '@vigie/detector';
import { waitFor } from '@vigie/runtime';
import {
  REPO_ROOT,
  ROLES,
  STACK,
  freePort,
  queryAs,
  startService,
  testKafka,
  type RunningService,
  LOCAL_KAFKA_TOPICS,
} from '@vigie/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import {
  createRole,
  dropRoles,
  pgProgram,
  startDetector,
  suffix,
  uniqueTopics,
  writePolicy,
  type ApiAlert,
} from './support/e2e.js';

// On-call receives a real pg_dump, once per incident. The shipped routing tree (deploy/alertmanager/alertmanager.yml)
// runs in an Alertmanager of this test's own, identical but for the timers a test cannot wait for: group_wait 1 s
// and group_interval 3 s on every route instead of 10 s / 5 min (repeat_interval is kept: 1 h for critical). Its
// receivers notify the stack's receiver, as the shipped file says. The detector re-sends the firing alert every
// 2 s and updates it as the dump copies table after table: if Alertmanager took each update for news, on-call would
// get a notification every group_interval.
const id = suffix();
const cluster = `notify-${id}`;
const dumper = `e2e_notify_${id}`;
const topics = uniqueTopics(id);
let alertmanager: ChildProcess | undefined;
let alertmanagerUrl = '';
let collector: RunningService | undefined;
let detector: Awaited<ReturnType<typeof startDetector>> | undefined;

interface Kept {
  route: string;
  status: string;
  alerts: { status: string; labels: Record<string, string>; annotations: Record<string, string> }[];
}

async function notifications(alertId: string): Promise<Kept[]> {
  const res = await fetch(`http://127.0.0.1:19096/notifications?alert_id=${encodeURIComponent(alertId)}`);
  return ((await res.json()) as { notifications: Kept[] }).notifications;
}

/** The shipped configuration with shorter grouping timers on every route (test only). */
function testConfig(): string {
  const config = parse(readFileSync(join(REPO_ROOT, 'deploy/alertmanager/alertmanager.yml'), 'utf8')) as {
    route: {
      group_wait?: string;
      group_interval?: string;
      routes?: { group_wait?: string; group_interval?: string }[];
    };
  };
  for (const route of [config.route, ...(config.route.routes ?? [])]) {
    route.group_wait = '1s';
    route.group_interval = '3s';
  }
  const file = join(mkdtempSync(join(tmpdir(), 'vigie-am-')), 'alertmanager.yml');
  writeFileSync(file, stringify(config));
  return file;
}

beforeAll(async () => {
  const port = await freePort();
  alertmanagerUrl = `http://127.0.0.1:${port}`;
  alertmanager = spawn(
    'prometheus-alertmanager',
    [
      `--config.file=${testConfig()}`,
      `--storage.path=${mkdtempSync(join(tmpdir(), 'vigie-am-data-'))}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--cluster.listen-address=',
    ],
    { stdio: 'ignore' },
  );
  await waitFor(async () => (await fetch(`${alertmanagerUrl}/-/ready`).catch(() => undefined))?.ok, {
    timeoutMs: 30_000,
    intervalMs: 200,
    what: 'the test Alertmanager',
  });
  await createRole(dumper);
  // pg_dump also reads the sequences; the role stays unprivileged (no off-hours alert beside the dump's).
  await queryAs(ROLES.superuser, `GRANT SELECT ON ALL SEQUENCES IN SCHEMA public, social TO ${dumper}`, [], {
    database: 'app',
  });
  const policyFile = writePolicy(cluster, { days: [] });
  collector = await startService(
    'collector-pglog',
    {
      cluster,
      source: { format: 'jsonlog', pgData: STACK.pgDataDir },
      checkpoint: { file: join(mkdtempSync(join(tmpdir(), 'vigie-notify-')), 'checkpoint.json'), startAt: 'end' },
      kafka: { brokers: [...STACK.kafkaBrokers], topics: LOCAL_KAFKA_TOPICS },
      topics: { activity: topics.activity, deadletter: topics.deadletter },
    },
    { policyFile },
  );
  detector = await startDetector(
    cluster,
    policyFile,
    topics,
    { tickIntervalMs: 1000 },
    {
      alertmanager: { url: alertmanagerUrl, resendIntervalMs: 2000 },
    },
  );
}, 180_000);

afterAll(async () => {
  await Promise.all([collector?.stop(), detector?.detector.stop()]);
  alertmanager?.kill('SIGTERM');
  await dropRoles([dumper]);
  const admin = testKafka().admin();
  await admin.connect();
  await admin.deleteTopics({ topics: Object.values(topics) }).catch(() => undefined);
  await admin.disconnect();
});

describe('Alertmanager routing to on-call', () => {
  it('delivers a real pg_dump to the critical receiver once per incident, then once resolved', async () => {
    await pgProgram('pg_dump', dumper, ['app']);
    const alertId = await waitFor(
      async () => (await detector?.alertsFor(dumper))?.find((a: ApiAlert) => a.rule === 'dump')?.id,
      { timeoutMs: 60_000, intervalMs: 500, what: 'the dump alert' },
    );

    // The session ended with pg_dump: the incident resolves (a minute's grace for late egress samples), and the
    // receiver gets that too. Wait for it: by then every revision and re-send has been through Alertmanager.
    const resolved = await waitFor(async () => (await notifications(alertId)).find((n) => n.status === 'resolved'), {
      timeoutMs: 150_000,
      intervalMs: 1000,
      what: 'the resolved notification',
    });
    expect(resolved.route).toBe('critical');
    const all = await notifications(alertId);
    expect(all.map((n) => n.status)).toEqual(['firing', 'resolved']);
    const firing = all[0]!;
    expect(firing.route).toBe('critical');
    expect(firing.alerts).toHaveLength(1);
    expect(firing.alerts[0]?.labels).toMatchObject({ alert_id: alertId, rule: 'dump', severity: 'critical', cluster });
    expect(firing.alerts[0]?.annotations['summary']).toContain('pg_dump of app');
    // The notification links to the evidence page (HTML, browser sign-in), not to the JSON API.
    expect(firing.alerts[0]?.annotations['evidence_url']).toBe(
      `http://127.0.0.1:${detector?.detector.port}/alerts/${alertRef(alertId)}`,
    );
    // One incident, several states: created, updated as tables were copied, resolved — each pushed (and re-sent
    // every 2 s while firing) to Alertmanager, which notified twice.
    const stored = (await detector?.alertsFor(dumper))?.find((a) => a.id === alertId) as ApiAlert;
    expect(stored).toMatchObject({ status: 'resolved', severity: 'critical' });
    expect(stored.revision).toBeGreaterThanOrEqual(3);
  }, 300_000);
});
