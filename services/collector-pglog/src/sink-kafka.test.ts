import { decodeEvent, encodeEvent, type VigieEvent } from '@vigie/contract';
import type { OutgoingMessage, ReliableProducer } from '@vigie/kafka';
import { describe, expect, it } from 'vitest';
import { KafkaSink } from './sink-kafka.js';

const event = (n: number): VigieEvent => ({
  v: 1,
  id: `c:6b07ec8f.1:${n}`,
  kind: 'session.end',
  cluster: 'c',
  ts: '2026-11-26T08:00:00.000Z',
  session: { id: '6b07ec8f.1', pid: 1, user: 'u', database: 'app' },
  source: { file: 'f', offset: n },
  durationMs: n,
});

function fakeProducer() {
  const sends: { messages: readonly OutgoingMessage[]; ack: () => void }[] = [];
  const producer: ReliableProducer = {
    send: (messages) => new Promise<void>((ack) => sends.push({ messages, ack })),
    state: 'ready',
    lastError: undefined,
    stop: () => Promise.resolve(),
  };
  return { producer, sends };
}

describe('KafkaSink', () => {
  it('sends contract-valid JSON (validated or not), keeps only kinds in flight, acks in order with watermarks', async () => {
    const { producer, sends } = fakeProducer();
    const acked: [number, string[]][] = [];
    const sink = new KafkaSink<number>(producer, {
      cluster: 'c',
      topics: { activity: 'a', deadletter: 'd' },
      maxInFlightEvents: 3,
      maxInFlightBytes: 1 << 20,
      validateEvery: 2,
      onAcknowledged: (w, kinds) => acked.push([w, [...kinds]]),
    });
    sink.add(event(1));
    sink.add(event(2));
    const bytes = sink.batchBytes;
    sink.cut(10);
    sink.add(event(3));
    sink.cut(20);
    expect(sink.full()).toBe(true);
    const values = sends.flatMap((s) => s.messages.map((m) => m.value as Buffer));
    // One in two validated (the contract's encoder, a Buffer of its own), the others written into the sink's shared
    // off-heap arena: the same JSON either way.
    expect(values.map((v) => Buffer.isBuffer(v))).toEqual([true, true, true]);
    expect(values[0]?.buffer).toBe(values[2]?.buffer);
    expect(values[1]?.buffer).not.toBe(values[0]?.buffer);
    const json = (b: Buffer): unknown => JSON.parse(b.toString());
    expect(values.map(json)).toEqual([1, 2, 3].map((i) => json(encodeEvent(event(i)))));
    expect(values.map((v) => decodeEvent(v).ok)).toEqual([true, true, true]);
    expect(bytes).toBe((values[0]?.length ?? 0) + (values[1]?.length ?? 0));
    expect(sends[0]?.messages[0]?.key).toBe('c/6b07ec8f.1');
    sends[0]?.ack();
    sends[1]?.ack();
    await sink.drain();
    expect(acked).toEqual([
      [10, ['session.end', 'session.end']],
      [20, ['session.end']],
    ]);
    expect([sink.pending, sink.full()]).toEqual([0, false]);
  });
});
