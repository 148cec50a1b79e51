import { decodeEvent, encodeEvent, type VigieEvent } from '@vigie/contract';
import type { OutgoingMessage, RejectedMessage } from '@vigie/kafka';
import { VigieError } from '@vigie/errors';
import { describe, expect, it } from 'vitest';
import { Outbox } from './outbox.js';
import { KAFKA_ERRORS } from '@vigie/kafka';
import { manualProducer } from '../test-support/manual-producer.js';

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

describe('Outbox', () => {
  it('sends contract-valid JSON (validated or not), keeps only kinds in flight, acks in order with watermarks', async () => {
    const { producer, sends } = manualProducer();
    const acked: [number, string[]][] = [];
    const sink = new Outbox<number>(producer, {
      collector: 'collector-pglog',
      cluster: 'c',
      topics: { activity: 'a', deadletter: 'd' },
      maxInFlightEvents: 3,
      maxInFlightBytes: 1 << 20,
      validateEvery: 2,
      onAcknowledged: (w, kinds) => acked.push([w as number, [...kinds]]),
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
    // The key names the session; the partition is the cluster's (the detector owns state per cluster).
    expect(sends.flatMap((s) => s.messages.map((m) => m.partitionKey))).toEqual(['c', 'c', 'c']);
    sends[0]?.ack();
    sends[1]?.ack();
    await sink.drain();
    expect(acked).toEqual([
      [10, ['session.end', 'session.end']],
      [20, ['session.end']],
    ]);
    expect([sink.pending, sink.full()]).toEqual([0, false]);
  });

  it('dead-letters what Kafka refuses for good and moves on; the checkpoint waits for the dead letters', async () => {
    const { producer, sends } = manualProducer();
    const acked: [number, string[]][] = [];
    const refused: [string, boolean][] = [];
    const sink = new Outbox<number>(producer, {
      collector: 'collector-pglog',
      cluster: 'c',
      topics: { activity: 'a', deadletter: 'd' },
      maxInFlightEvents: 100,
      maxInFlightBytes: 1 << 20,
      onAcknowledged: (w, kinds) => acked.push([w as number, [...kinds]]),
      onKafkaRejected: (r, deadLettered) => refused.push([r.error.code, deadLettered]),
    });
    sink.add(event(1));
    sink.add(event(2));
    sink.cut(10);
    sink.add(event(3));
    sink.cut(20);
    const tooLarge = (m: OutgoingMessage): RejectedMessage => ({
      message: m,
      error: new VigieError(KAFKA_ERRORS.MESSAGE_TOO_LARGE, 'refused', {
        context: { bytes: 4321, error: 'MESSAGE_TOO_LARGE' },
      }),
    });
    // Kafka refuses event 2 of the first batch; the second batch lands before the dead letter does.
    sends[0]!.ack([tooLarge(sends[0]!.messages[1]!)]);
    sends[1]!.ack();
    await new Promise((r) => setImmediate(r));
    expect(acked).toEqual([]); // the first batch waits for its dead letter, the second for the first
    expect(sends).toHaveLength(3);
    const letter = JSON.parse(String(sends[2]!.messages[0]!.value)) as Record<string, unknown>;
    expect([sends[2]!.messages[0]!.topic, letter['reason'], letter['id'], letter['source']]).toEqual([
      'd',
      'kafka_rejected',
      'c:6b07ec8f.1:2:kafka-rejected',
      { file: 'f', offset: 2 },
    ]);
    expect(letter['detail']).toBe('session.end of 4321 bytes refused by Kafka for a: MESSAGE_TOO_LARGE');
    expect(letter['excerpt']).toBe('');
    sends[2]!.ack();
    await sink.drain();
    expect(acked).toEqual([
      [10, ['session.end', 'deadletter']],
      [20, ['session.end']],
    ]);
    expect(refused).toEqual([['VIGIE_KAFKA_MESSAGE_TOO_LARGE', true]]);
  });

  it('a batch refused for good stays in flight: the checkpoint does not pass it', async () => {
    const { producer, sends } = manualProducer();
    const acked: number[] = [];
    const sink = new Outbox<number>(producer, {
      collector: 'collector-pglog',
      cluster: 'c',
      topics: { activity: 'a', deadletter: 'd' },
      maxInFlightEvents: 100,
      maxInFlightBytes: 1 << 20,
      onAcknowledged: (w) => acked.push(w as number),
    });
    sink.add(event(1));
    sink.cut(10);
    sink.add(event(2));
    sink.cut(20);
    sends[0]!.fail(new VigieError(KAFKA_ERRORS.AUTHORIZATION, 'no ACL'));
    sends[1]!.ack();
    await expect(sink.waitOne()).rejects.toMatchObject({ code: 'VIGIE_KAFKA_AUTHORIZATION' });
    expect(acked).toEqual([]);
    expect(sink.inFlightCount).toBe(2);
  });
});
