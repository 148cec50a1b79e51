import { Registry } from 'prom-client';
import { catalogueDiff } from '@vigie/runtime';
import { describe, expect, it } from 'vitest';
import { createEgressMetrics } from './metrics.js';

describe('collector-egress metrics', () => {
  it('are exactly what the instrumentation spec (libs/runtime/src/metric-catalogue.ts) says: names, types, labels', async () => {
    const registry = new Registry();
    createEgressMetrics(registry);
    expect(await catalogueDiff('collector-egress', registry)).toEqual([]);
  });
});
