import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from '@vigie/runtime';
import { LOCAL_KAFKA_TOPICS, STACK, connectAs, startService, testKafka, type RunningService } from '@vigie/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ALWAYS_BUSINESS_HOURS,
  createRole,
  dropRoles,
  startDetector,
  suffix,
  uniqueTopics,
  writePolicy,
  type ApiAlert,
} from './support/e2e.js';

// Bytes on the wire, from the kernel's counters through the real egress collector to the real detector: the same
// read from inside and from outside the bastion, and only the outside one is an egress alert.
const id = suffix();
const cluster = `e2e-egress-${id}`;
const outsider = `e2e_eout_${id}`;
const insider = `e2e_ein_${id}`;
const topics = uniqueTopics(id);
let collector: RunningService;
let detector: Awaited<ReturnType<typeof startDetector>>;

beforeAll(async () => {
  await createRole(outsider);
  await createRole(insider);
  const policy = writePolicy(cluster, ALWAYS_BUSINESS_HOURS);
  // A site override: 2 MB per session is "large" here, so 50,000 rows (about 10 MB) cross it.
  const rules = join(mkdtempSync(join(tmpdir(), 'vigie-e2e-rules-')), 'site-rules.yaml');
  writeFileSync(
    rules,
    JSON.stringify({ overrides: [{ id: 'non-bastion-egress', params: { sessionBytes: 2_000_000 } }] }),
  );
  collector = await startService(
    'collector-egress',
    {
      cluster,
      serverPort: STACK.pg.port,
      postgres: { user: 'vigie_collector', password: 'vigie_collector' },
      kafka: { brokers: [...STACK.kafkaBrokers], topics: LOCAL_KAFKA_TOPICS },
      topics: { egress: topics.egress, activity: topics.activity },
    },
    { policyFile: policy },
  );
  detector = await startDetector(cluster, policy, topics, { rulesFile: rules });
}, 180_000);

afterAll(async () => {
  await Promise.all([collector?.stop(), detector?.detector.stop()]);
  const admin = testKafka().admin();
  await admin.connect();
  await admin.deleteTopics({ topics: Object.values(topics) }).catch(() => undefined);
  await admin.disconnect();
  await dropRoles([outsider, insider]);
});

describe('end to end: egress outside the bastion', () => {
  it('alerts for the client outside the bastion only', async () => {
    const received: Record<string, number> = {};
    for (const [role, localAddress] of [
      [outsider, '127.0.0.3'],
      [insider, '127.0.0.2'],
    ] as const) {
      const client = await connectAs(role, { localAddress });
      try {
        const { rowCount } = await client.query('SELECT * FROM public.citizens ORDER BY id LIMIT 50000');
        expect(rowCount).toBe(50_000);
        received[role] = (
          client as unknown as { connection: { stream: { bytesRead: number } } }
        ).connection.stream.bytesRead;
      } finally {
        await client.end();
      }
    }
    expect(received[outsider]).toBeGreaterThan(2_000_000);
    const alert = await waitFor(
      async () => (await detector.alertsFor(outsider)).find((a: ApiAlert) => a.rule === 'non-bastion-egress'),
      { timeoutMs: 60_000, intervalMs: 500, what: 'a non-bastion-egress alert for the outside client' },
    );
    expect(alert.where).toMatchObject({ clientAddr: '127.0.0.3', clientClass: 'non-bastion' });
    // The bytes are the kernel's, within 5 % of what the client read, once the socket's final counters are in (the
    // alert opened at the threshold; its end publishes the session's final figures).
    const within = (a: ApiAlert | undefined) =>
      Math.abs((a?.what.bytes ?? 0) - (received[outsider] ?? 0)) < 0.05 * (received[outsider] ?? 1);
    const final = await waitFor(
      async () =>
        (await detector.alertsFor(outsider)).find((a: ApiAlert) => a.rule === 'non-bastion-egress' && within(a)),
      { timeoutMs: 60_000, intervalMs: 500, what: 'the alert with the bytes the client read' },
    );
    expect(final.id).toBe(alert.id);
    // The same read from the bastion: its final sample reached the detector, and no egress alert.
    await waitFor(
      async () => {
        const res = await fetch(`http://127.0.0.1:${detector.detector.port}/metrics`);
        const text = await res.text();
        return /vigie_egress_bytes_total\{[^}]*client_class="bastion"[^}]*\} [1-9]/.test(text);
      },
      { timeoutMs: 30_000, intervalMs: 500, what: 'the bastion session bytes counted by the detector' },
    );
    expect((await detector.alertsFor(insider)).filter((a) => a.rule === 'non-bastion-egress')).toEqual([]);
  });
});
