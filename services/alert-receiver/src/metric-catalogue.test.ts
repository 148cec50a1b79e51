import { Registry } from 'prom-client';
import { catalogueDiff } from '@vigie/runtime';
import { describe, expect, it } from 'vitest';
import { createReceiverMetrics } from './metrics.js';

describe('alert-receiver metrics', () => {
  it('are exactly what the instrumentation spec (libs/runtime/src/metric-catalogue.ts) says: names, types, labels', async () => {
    const registry = new Registry();
    createReceiverMetrics(registry);
    expect(await catalogueDiff('alert-receiver', registry)).toEqual([]);
  });
});
