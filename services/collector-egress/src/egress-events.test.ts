import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import type { Outbox } from '@vigie/collector-kit';
import type { EgressSampleEvent, VigieEvent } from '@vigie/contract';
import type { CompiledPolicy } from '@vigie/policy';
import { createEgressEvents } from './egress-events.js';
import { createEgressMetrics } from './metrics.js';

function setup(pending: number) {
  const added: { event: VigieEvent; key: string | undefined }[] = [];
  const outbox = {
    pending,
    add: (event: VigieEvent, { key }: { key?: string }) => added.push({ event, key }),
  } as unknown as Outbox;
  const policy = { clientClass: (addr?: string) => (addr === '10.0.0.1' ? 'bastion' : 'other') } as CompiledPolicy;
  const registry = new Registry();
  const metrics = createEgressMetrics(registry);
  return { added, registry, events: createEgressEvents({ outbox, maxPendingEvents: 2, metrics, policy }) };
}

const sample = (bytes: number, addr: string) =>
  ({ kind: 'egress.sample', bytesSentDelta: bytes, peer: { addr, port: 5000 } }) as unknown as EgressSampleEvent;

describe('createEgressEvents', () => {
  it('counts observed bytes by client class and queues each event with its key', async () => {
    const { added, registry, events } = setup(0);
    events.record({
      events: [
        { key: 'a', event: sample(100, '10.0.0.1') },
        { key: 'b', event: sample(0, '10.0.0.2') },
      ],
      joinFailures: ['no_session'],
      closesMissed: 1,
    });
    expect(added.map((a) => a.key)).toEqual(['a', 'b']);
    const text = await registry.metrics();
    expect(text).toMatch(/vigie_egress_observed_bytes_total\{client_class="bastion"\} 100/);
    expect(text).toMatch(/vigie_egress_join_failures_total\{reason="no_session"\} 1/);
  });

  it('drops (and counts) a droppable event while the outbox is full, but never a non-droppable one', async () => {
    const { added, registry, events } = setup(2);
    events.emit([{ key: 'a', event: sample(1, '10.0.0.1') }], true);
    events.emit([{ key: 'b', event: sample(1, '10.0.0.1') }], false);
    expect(added.map((a) => a.key)).toEqual(['b']);
    expect(await registry.metrics()).toMatch(/vigie_egress_events_dropped_total\S* 1/);
  });
});
