import { RejectReason, type VigieEvent } from '@vigie/contract';
import type { OutgoingMessage, RejectedMessage, ReliableProducer, SendResult } from '@vigie/kafka';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { createCollectorKitMetrics } from './collector-metrics.js';
import { Outbox } from './outbox.js';

function manualProducer() {
  const sends: { messages: readonly OutgoingMessage[]; ack: (rejected?: RejectedMessage[]) => void }[] = [];
  const producer: ReliableProducer = {
    send: (messages) =>
      new Promise<SendResult>((resolve) => sends.push({ messages, ack: (rejected = []) => resolve({ rejected }) })),
    state: 'ready',
    lastError: undefined,
    stop: async () => undefined,
  };
  return { producer, sends };
}

const sample = (n: number, bytes = n): VigieEvent => ({
  v: 1,
  id: `c:egress:${n}`,
  kind: 'egress.sample',
  transport: 'tcp',
  cluster: 'c',
  ts: '2026-11-26T08:00:00.000Z',
  bytesSent: bytes,
  bytesSentDelta: bytes,
  final: false,
});
const tick = () => new Promise((r) => setImmediate(r));

describe('standard collector metrics', () => {
  it('count what Kafka acknowledged by kind, what is pending, and the events the contract refused', async () => {
    const registry = new Registry();
    const metrics = createCollectorKitMetrics(registry, 'collector-egress');
    const { producer, sends } = manualProducer();
    const outbox = new Outbox(producer, {
      collector: 'collector-egress',
      cluster: 'c',
      topics: { egress: 'e', deadletter: 'd' },
      maxInFlightEvents: 100,
      metrics,
    });
    const text = () => registry.metrics();
    for (const reason of RejectReason.options) {
      expect(await text()).toContain(`vigie_records_rejected_total{component="collector-egress",reason="${reason}"} 0`);
    }
    outbox.add(sample(1));
    outbox.add(sample(2));
    outbox.add(sample(3, -5)); // refused by the contract: a dead letter instead
    outbox.cut();
    expect(await text()).toContain('vigie_collector_pending_events{collector="collector-egress"} 3');
    expect(sends[0]!.messages.map((m) => m.topic)).toEqual(['e', 'e', 'd']);
    sends[0]!.ack();
    await tick();
    const after = await text();
    expect(after).toContain(
      'vigie_collector_events_produced_total{collector="collector-egress",kind="egress.sample"} 2',
    );
    expect(after).toContain('vigie_collector_events_produced_total{collector="collector-egress",kind="deadletter"} 1');
    expect(after).toContain('vigie_records_rejected_total{component="collector-egress",reason="invalid_event"} 1');
    expect(after).toContain('vigie_collector_pending_events{collector="collector-egress"} 0');
    expect(after).toMatch(/vigie_collector_produce_latency_seconds_count\{collector="collector-egress"\} 1\n/);
  });
});
