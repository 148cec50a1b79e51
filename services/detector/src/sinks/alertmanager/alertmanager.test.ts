import { describe, expect, it } from 'vitest';
import { createLogger, waitFor } from '@vigie/runtime';
import { alertLabels, createAlertmanagerSink, toAlertmanager, type AlertmanagerAlert } from './alertmanager.js';
import { sampleAlert } from '../../../test-support/fixtures.js';
import { alertRef } from '../store/alert-store.js';

const links = { apiBaseUrl: 'http://127.0.0.1:18080', runbookBaseUrl: 'https://example.invalid/README.md#rule-' };
const logger = createLogger('test', { level: 'silent' });

function fakeAlertmanager(failFirst = 0) {
  const posts: AlertmanagerAlert[][] = [];
  let failures = failFirst;
  const fetchImpl = (async (_url: string, init: { body: string }) => {
    if (failures > 0) {
      failures -= 1;
      return new Response('overloaded', { status: 503 });
    }
    posts.push(JSON.parse(init.body) as AlertmanagerAlert[]);
    return new Response('', { status: 200 });
  }) as unknown as typeof fetch;
  return { posts, fetchImpl };
}

describe('toAlertmanager', () => {
  it('labels identify the incident and annotations carry the evidence links', () => {
    const am = toAlertmanager(sampleAlert(), links);
    expect(am.labels).toEqual({
      alertname: 'Database dump',
      alert_id: 'dump:local:6b07e26d.1a57',
      rule: 'dump',
      severity: 'critical',
      cluster: 'local',
      database: 'app',
      client_class: 'non-bastion',
      source: 'vigie',
    });
    // The page's URL names the alert by its reference (the id can hold a role name).
    expect(am.annotations['evidence_url']).toBe(
      `http://127.0.0.1:18080/alerts/${alertRef('dump:local:6b07e26d.1a57')}`,
    );
    expect(am.annotations['evidence_url']).toMatch(/\/alerts\/[0-9a-f]{32}$/);
    expect(am.annotations['api_url']).toBe('http://127.0.0.1:18080/api/alerts/dump%3Alocal%3A6b07e26d.1a57');
    expect(am.generatorURL).toBe(am.annotations['evidence_url']);
    expect(am.annotations['runbook_url']).toBe('https://example.invalid/README.md#rule-dump');
    expect(am.annotations['summary']).toContain('pg_dump of app');
    expect(am.annotations['tables']).toBe('public.citizens, social.payments');
    expect(am.startsAt).toBe('2026-11-26T01:14:00.000Z');
    expect(am.endsAt).toBeUndefined();
  });

  it('labels do not change when the incident grows', () => {
    const a = sampleAlert();
    const b = sampleAlert({ revision: 7, what: { tables: ['x', 'y', 'z'], rows: 99_999 }, summary: 'other' });
    expect(alertLabels(b)).toEqual(alertLabels(a));
  });

  it('a resolved alert carries endsAt', () => {
    const am = toAlertmanager(sampleAlert({ status: 'resolved' }), links, '2026-11-26T02:00:00.000Z');
    expect(am.endsAt).toBe('2026-11-26T02:00:00.000Z');
  });
});

describe('createAlertmanagerSink', () => {
  it('keeps only the newest state of an alert while it waits, and retries failures', async () => {
    const am = fakeAlertmanager(2);
    let failures = 0;
    const delivered: number[] = [];
    const sink = createAlertmanagerSink({
      url: 'http://127.0.0.1:1',
      links,
      logger,
      fetchImpl: am.fetchImpl,
      onPushFailure: () => (failures += 1),
      onDelivered: (a) => delivered.push(a.revision),
    });
    sink.enqueue([sampleAlert({ revision: 1 }), sampleAlert({ revision: 3 }), sampleAlert({ revision: 2 })]);
    expect(sink.queued).toBe(1);
    sink.start();
    expect(await sink.flush(10_000)).toBe(true);
    expect(failures).toBe(2);
    expect(am.posts).toHaveLength(1);
    expect(am.posts[0]).toHaveLength(1);
    expect(delivered).toEqual([3]);
    await sink.stop();
  });

  it('drops the oldest queued alert when the queue is full, and counts it', async () => {
    let dropped = 0;
    const sink = createAlertmanagerSink({
      url: 'http://127.0.0.1:1',
      links,
      logger,
      maxQueue: 2,
      fetchImpl: fakeAlertmanager().fetchImpl,
      onDropped: () => (dropped += 1),
    });
    sink.enqueue([sampleAlert({ id: 'a' }), sampleAlert({ id: 'b' }), sampleAlert({ id: 'c' })]);
    expect(sink.queued).toBe(2);
    expect(dropped).toBe(1);
  });

  it('re-sends firing alerts periodically and stops re-sending once resolved', async () => {
    const am = fakeAlertmanager();
    const sink = createAlertmanagerSink({
      url: 'http://127.0.0.1:1',
      links,
      logger,
      resendIntervalMs: 20,
      fetchImpl: am.fetchImpl,
    });
    sink.start();
    sink.enqueue([sampleAlert()]);
    await waitFor(() => am.posts.length >= 3, { what: 're-sends' });
    sink.enqueue([sampleAlert({ status: 'resolved', revision: 2 })]);
    await waitFor(() => am.posts.some((p) => p[0]?.endsAt !== undefined), { what: 'resolution' });
    expect(sink.active).toBe(0);
    const after = am.posts.length;
    await new Promise((r) => setTimeout(r, 80));
    expect(am.posts.length).toBe(after);
    await sink.stop();
  });

  it('resolves the previous label set when the severity of an incident changes', async () => {
    const am = fakeAlertmanager();
    const sink = createAlertmanagerSink({ url: 'http://127.0.0.1:1', links, logger, fetchImpl: am.fetchImpl });
    sink.start();
    sink.enqueue([sampleAlert({ severity: 'warning' })]);
    await sink.flush();
    sink.enqueue([sampleAlert({ severity: 'critical', revision: 2 })]);
    await sink.flush();
    const last = am.posts.at(-1) ?? [];
    const old = last.find((a) => a.labels['severity'] === 'warning');
    const cur = last.find((a) => a.labels['severity'] === 'critical');
    expect(old?.endsAt).toBeDefined();
    expect(cur?.endsAt).toBeUndefined();
    await sink.stop();
  });
});

describe('Alertmanager edge cases', () => {
  it('never sends endsAt before startsAt, even when event time is ahead of the clock', () => {
    const future = new Date(Date.now() + 3_600_000).toISOString();
    const am = toAlertmanager(sampleAlert({ status: 'resolved', firstSeen: future, lastSeen: future }), links);
    expect(Date.parse(am.endsAt ?? '')).toBeGreaterThanOrEqual(Date.parse(am.startsAt));
  });

  it('drops states Alertmanager refuses (4xx) instead of blocking the queue', async () => {
    let calls = 0;
    let dropped = 0;
    const fetchImpl = (async () => {
      calls += 1;
      return calls === 1 ? new Response('bad', { status: 400 }) : new Response('', { status: 200 });
    }) as unknown as typeof fetch;
    const sink = createAlertmanagerSink({
      url: 'http://127.0.0.1:1',
      links,
      logger,
      fetchImpl,
      onDropped: () => (dropped += 1),
    });
    sink.start();
    sink.enqueue([sampleAlert({ id: 'a' })]);
    expect(await sink.flush(2_000)).toBe(true);
    sink.enqueue([sampleAlert({ id: 'b' })]);
    expect(await sink.flush(2_000)).toBe(true);
    expect([calls, dropped]).toEqual([2, 1]);
    await sink.stop();
  });
});
