import { mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { readNotifications, registerReceiver } from './receiver.js';

const payload = (alertId: string, status: 'firing' | 'resolved') => ({
  version: '4',
  groupKey: `{}/{severity="critical"}:{alert_id="${alertId}"}`,
  status,
  receiver: 'vigie-critical',
  groupLabels: { alert_id: alertId },
  commonLabels: { alert_id: alertId, severity: 'critical' },
  commonAnnotations: {},
  externalURL: 'http://127.0.0.1:19093',
  truncatedAlerts: 0,
  alerts: [
    {
      status,
      labels: { alert_id: alertId, alertname: 'Database dump', severity: 'critical' },
      annotations: { summary: 'pg_dump of app' },
      startsAt: '2026-11-26T10:00:00Z',
      endsAt: '0001-01-01T00:00:00Z',
      generatorURL: 'http://127.0.0.1:18080/api/alerts/x',
      fingerprint: 'abc',
    },
  ],
});

function receiver() {
  const file = join(mkdtempSync(join(tmpdir(), 'vigie-receiver-')), 'notifications.jsonl');
  const app = Fastify();
  let count = 0;
  registerReceiver(app, { file, onNotification: () => (count += 1) });
  return { app, file, count: () => count };
}

describe('alert receiver', () => {
  it('keeps each notification, in order, in a file only its owner reads, and serves them by alert id', async () => {
    const r = receiver();
    for (const [id, status] of [
      ['dump:local:a', 'firing'],
      ['dump:local:b', 'firing'],
      ['dump:local:a', 'resolved'],
    ] as const) {
      const res = await r.app.inject({ method: 'POST', url: '/notify/critical', payload: payload(id, status) });
      expect(res.statusCode).toBe(200);
    }
    expect(r.count()).toBe(3);
    expect(statSync(r.file).mode & 0o777).toBe(0o600);
    const kept = await readNotifications(r.file);
    expect(kept.map((n) => [n.route, n.status, n.alerts[0]?.labels['alert_id']])).toEqual([
      ['critical', 'firing', 'dump:local:a'],
      ['critical', 'firing', 'dump:local:b'],
      ['critical', 'resolved', 'dump:local:a'],
    ]);
    const res = await r.app.inject({ method: 'GET', url: '/notifications?alert_id=dump:local:a&status=firing' });
    const body = res.json<{ notifications: { status: string; receivedAt: string }[] }>();
    expect(body.notifications.map((n) => n.status)).toEqual(['firing']);
    expect(Number.isNaN(Date.parse(body.notifications[0]!.receivedAt))).toBe(false);
  });

  it('refuses what is not an Alertmanager webhook payload, keeping nothing', async () => {
    const r = receiver();
    const res = await r.app.inject({ method: 'POST', url: '/notify/critical', payload: { version: '3', alerts: 'x' } });
    expect(res.statusCode).toBe(400);
    expect(res.json<{ error: string }>().error).toBe('VIGIE_RECEIVER_BAD_PAYLOAD');
    expect(await readNotifications(r.file)).toEqual([]);
    expect(r.count()).toBe(0);
  });
});
