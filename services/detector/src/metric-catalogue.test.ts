import { Registry } from 'prom-client';
import { catalogueDiff } from '@vigie/runtime';
import { describe, expect, it } from 'vitest';
import { createDetectorMetrics } from './metrics.js';

describe('detector metrics', () => {
  it('are exactly what the instrumentation spec (libs/runtime/src/metric-catalogue.ts) says: names, types, labels', async () => {
    const registry = new Registry();
    createDetectorMetrics(registry, {
      sessionsTracked: () => 0,
      activeAlerts: () => [],
      alertmanagerQueue: () => 0,
      consumerLag: () => new Map(),
    });
    expect(await catalogueDiff('detector', registry)).toEqual([]);
  });
});
