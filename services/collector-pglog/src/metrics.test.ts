import { RejectReason } from '@vigie/contract';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { createCollectorMetrics } from './metrics.js';

describe('collector-pglog metrics', () => {
  it('export every reject reason at 0 from the start, so the first rejection is an increase', async () => {
    const registry = new Registry();
    const metrics = createCollectorMetrics(registry);
    const text = await registry.metrics();
    for (const reason of RejectReason.options) {
      expect(text).toContain(`vigie_records_rejected_total{component="collector-pglog",reason="${reason}"} 0`);
    }
    metrics.rejected.inc({ component: 'collector-pglog', reason: 'oversized_record' });
    expect(await registry.metrics()).toContain(
      'vigie_records_rejected_total{component="collector-pglog",reason="oversized_record"} 1',
    );
    // Only the fixed set: no label value comes from the log.
    const series = (await registry.getSingleMetricAsString('vigie_records_rejected_total'))
      .split('\n')
      .filter((l) => l.startsWith('vigie_records_rejected_total{'));
    expect(series).toHaveLength(RejectReason.options.length);
  });
});
