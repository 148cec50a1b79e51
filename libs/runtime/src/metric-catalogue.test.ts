import { Counter, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { METRIC_CATALOGUE, catalogueDiff, metricsOf } from './metric-catalogue.js';

describe('the instrumentation spec', () => {
  it('names every metric once, as Prometheus asks (vigie_<thing>_<unit>, _total for counters only)', () => {
    const names = METRIC_CATALOGUE.map((m) => m.name);
    expect(names.length).toBe(new Set(names).size);
    for (const m of METRIC_CATALOGUE) {
      expect(m.name, m.name).toMatch(/^vigie_[a-z0-9_]+$/);
      expect(m.name.endsWith('_total'), m.name).toBe(m.type === 'counter');
      expect(m.services.length, m.name).toBeGreaterThan(0);
      expect(m.help.length, m.name).toBeGreaterThan(10);
    }
  });

  it('gives every collector the standard collector set under one name each, labelled collector', () => {
    for (const service of ['collector-pglog', 'collector-replication', 'collector-egress'] as const) {
      const standard = [...metricsOf(service)].filter(([name]) => name.startsWith('vigie_collector_'));
      expect(standard.map(([name]) => name).sort()).toEqual([
        'vigie_collector_backpressure',
        'vigie_collector_events_produced_total',
        'vigie_collector_kafka_up',
        'vigie_collector_pending_events',
        'vigie_collector_produce_latency_seconds',
        'vigie_collector_source_up',
      ]);
      for (const [name, { labels }] of standard) expect(labels[0], name).toBe('collector');
    }
  });

  it('reports a metric missing, one extra, and one with other labels', async () => {
    const registry = new Registry();
    new Counter({ name: 'vigie_receiver_notifications_total', help: 'x', labelNames: ['a'], registers: [registry] });
    new Counter({ name: 'vigie_made_up_total', help: 'x', registers: [registry] });
    expect(await catalogueDiff('alert-receiver', registry)).toEqual([
      'vigie_receiver_notifications_total: labels [a], the catalogue says []',
      'vigie_made_up_total: exported by alert-receiver, not in the catalogue for it',
    ]);
    expect(await catalogueDiff('alert-receiver', new Registry())).toEqual([
      'vigie_receiver_notifications_total: in the catalogue, not exported by alert-receiver',
    ]);
  });
});
