import { describe, expect, it } from 'vitest';
import { createLogger, waitFor } from '@vigie/runtime';
import { STACK, uniqueName } from '@vigie/testkit';
import { createAlertmanagerSink } from './alertmanager.js';
import { sampleAlert } from '../../../test-support/fixtures.js';

interface AmAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  status: { state: string };
}

async function listed(cluster: string): Promise<AmAlert[]> {
  const filter = encodeURIComponent(`cluster="${cluster}"`);
  const res = await fetch(`${STACK.alertmanagerUrl}/api/v2/alerts?filter=${filter}`);
  expect(res.status).toBe(200);
  return (await res.json()) as AmAlert[];
}

describe('Alertmanager sink against the real Alertmanager', () => {
  it('shows one alert per incident, follows a severity change without a duplicate, and resolves it', async () => {
    const cluster = uniqueName('am');
    const sink = createAlertmanagerSink({
      url: STACK.alertmanagerUrl,
      links: { apiBaseUrl: 'http://127.0.0.1:18080', runbookBaseUrl: 'https://example.invalid/README.md#rule-' },
      logger: createLogger('test', { level: 'silent' }),
    });
    sink.start();
    const now = new Date().toISOString();
    const base = { cluster, firstSeen: now, lastSeen: now };
    sink.enqueue([sampleAlert({ ...base, id: `dump:${cluster}:a.1`, severity: 'warning' })]);
    sink.enqueue([sampleAlert({ ...base, id: `dump:${cluster}:b.2`, sessionId: 'b.2' })]);
    expect(await sink.flush(10_000)).toBe(true);
    let alerts = await waitFor(async () => ((await listed(cluster)).length === 2 ? listed(cluster) : undefined), {
      what: 'two incidents',
    });
    expect(alerts.map((a) => a.labels['alert_id']).sort()).toEqual([`dump:${cluster}:a.1`, `dump:${cluster}:b.2`]);

    // Severity rises (pg_dumpall read the password hashes): still one alert for a.1, now critical.
    sink.enqueue([sampleAlert({ ...base, id: `dump:${cluster}:a.1`, severity: 'critical', revision: 2 })]);
    await sink.flush(10_000);
    alerts = await waitFor(
      async () => {
        const l = (await listed(cluster)).filter((a) => a.labels['alert_id'] === `dump:${cluster}:a.1`);
        return l.length === 1 && l[0]?.labels['severity'] === 'critical' ? l : undefined;
      },
      { what: 'a.1 critical and alone' },
    );
    expect(alerts[0]?.annotations['runbook_url']).toBe('https://example.invalid/README.md#rule-dump');

    // Resolved: Alertmanager stops listing it as active.
    sink.enqueue([sampleAlert({ ...base, id: `dump:${cluster}:b.2`, status: 'resolved', revision: 2 })]);
    await sink.flush(10_000);
    await waitFor(async () => !(await listed(cluster)).some((a) => a.labels['alert_id'] === `dump:${cluster}:b.2`), {
      what: 'b.2 resolved',
    });
    expect(sink.active).toBe(1);
    await sink.stop();
  });
});
