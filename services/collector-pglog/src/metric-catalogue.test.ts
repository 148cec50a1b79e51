import { Registry } from 'prom-client';
import { catalogueDiff } from '@vigie/runtime';
import { describe, expect, it } from 'vitest';
import { createCollectorMetrics } from './metrics.js';

describe('collector-pglog metrics', () => {
  it('are exactly what the instrumentation spec (libs/runtime/src/metric-catalogue.ts) says: names, types, labels', async () => {
    const registry = new Registry();
    createCollectorMetrics(registry);
    expect(await catalogueDiff('collector-pglog', registry)).toEqual([]);
  });
});
