import { Registry } from 'prom-client';
import { catalogueDiff } from '@vigie/runtime';
import { describe, expect, it } from 'vitest';
import { createReplicationMetrics } from './metrics.js';

describe('collector-replication metrics', () => {
  it('are exactly what the instrumentation spec (libs/runtime/src/metric-catalogue.ts) says: names, types, labels', async () => {
    const registry = new Registry();
    createReplicationMetrics(registry);
    expect(await catalogueDiff('collector-replication', registry)).toEqual([]);
  });
});
