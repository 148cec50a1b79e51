import { describe, expect, it } from 'vitest';
import type { ReliableProducer } from '@vigie/kafka';
import type { VigieEvent } from '@vigie/contract';
import { VigieError } from '@vigie/errors';
import { KAFKA_ERRORS } from '@vigie/kafka';
import { manualProducer } from '../test-support/manual-producer.js';
import { Outbox, type OutboxOptions } from './outbox.js';

/** A replication-like event; its key (`k<n>`) is given to the outbox, as the replication collector does. */
const event = (n: number): VigieEvent => ({
  v: 1,
  id: `c:slot:${n}`,
  kind: 'replication.slot',
  cluster: 'c',
  ts: '2026-11-26T08:00:00.000Z',
  slot: `s${n}`,
  plugin: 'pgoutput',
  slotType: 'logical',
  active: true,
  retainedWalBytes: 0,
  known: true,
});
const tick = () => new Promise((r) => setImmediate(r));

/** The outbox as the replication collector uses it: sends by itself, commit LSNs as positions. */
function outbox(producer: ReliableProducer, options: Partial<OutboxOptions<bigint>>): Outbox<bigint> {
  return new Outbox<bigint>(producer, {
    collector: 'collector-replication',
    cluster: 'c',
    topics: { changes: 't', deadletter: 'dead' },
    maxInFlightEvents: 1_000,
    autoSend: true,
    ...options,
  });
}

describe('Outbox sending by itself (autoSend)', () => {
  it('confirms an LSN only after Kafka acknowledged it and everything queued before it', async () => {
    const { producer, sends } = manualProducer();
    const confirmed: bigint[] = [];
    const sink = outbox(producer, { maxBatchEvents: 2, onAcknowledged: (l) => l !== undefined && confirmed.push(l) });
    const push = (n: number, lsn?: bigint) => sink.add(event(n), { key: `k${n}`, position: lsn });
    push(1, 100n);
    push(2); // a health event: no LSN
    push(3, 300n);
    push(4, 400n);
    push(5, 500n);
    expect(sends).toHaveLength(1); // one batch in flight at a time
    expect(sends[0]!.messages.map((m) => m.key)).toEqual(['k1']);
    expect(sends[0]!.messages.map((m) => m.topic)).toEqual(['t']);
    expect(confirmed).toEqual([]);
    sends[0]!.ack();
    await tick();
    expect(confirmed).toEqual([100n]);
    // Everything queued meanwhile leaves in the next batches, capped at maxBatch, in order.
    expect(sends[1]!.messages.map((m) => m.key)).toEqual(['k2', 'k3']);
    sends[1]!.ack();
    await tick();
    expect(confirmed).toEqual([100n, 300n]);
    expect(sink.pending).toBe(2);
    sends[2]!.ack();
    await tick();
    expect(confirmed).toEqual([100n, 300n, 500n]);
    expect(sink.pending).toBe(0);
  });

  it('holds readers back until the backlog falls to the limit, and flush waits for everything', async () => {
    const { producer, sends } = manualProducer();
    const sink = outbox(producer, { maxBatchEvents: 10 });
    for (let i = 0; i < 5; i += 1) sink.add(event(i), { position: BigInt(i + 1) });
    let released = false;
    void sink.whenAtMost(4).then(() => (released = true));
    let flushed = false;
    void sink.flush().then(() => (flushed = true));
    await tick();
    expect(released).toBe(false);
    sends[0]!.ack(); // the first message alone
    await tick();
    expect(released).toBe(true);
    expect(flushed).toBe(false);
    sends[1]!.ack();
    await tick();
    expect(flushed).toBe(true);
  });

  it('never confirms what a stopped producer did not store', async () => {
    const { producer, sends } = manualProducer();
    const confirmed: bigint[] = [];
    const sink = outbox(producer, { maxBatchEvents: 10, onAcknowledged: (l) => l !== undefined && confirmed.push(l) });
    sink.add(event(1), { position: 10n });
    sends[0]!.fail(new Error('stopped'));
    await tick();
    expect(confirmed).toEqual([]);
    expect(sink.pending).toBe(0);
  });

  it('dead-letters a message Kafka refuses for good, then confirms; after a failure for good nothing more is confirmed', async () => {
    const { producer, sends } = manualProducer();
    const confirmed: bigint[] = [];
    const refused: string[] = [];
    const failures: unknown[] = [];
    const sink = outbox(producer, {
      maxBatchEvents: 10,
      onAcknowledged: (l) => l !== undefined && confirmed.push(l),
      onKafkaRejected: (r) => refused.push(r.message.key),
      onFailed: (e) => failures.push(e),
    });
    sink.add(event(1), { key: 'k1', position: 10n });
    await tick();
    const tooLarge = new VigieError(KAFKA_ERRORS.MESSAGE_TOO_LARGE, 'refused');
    sends[0]!.ack([{ message: sends[0]!.messages[0]!, error: tooLarge }]);
    await tick();
    expect(confirmed).toEqual([]); // not before the dead letter landed
    expect(sends[1]!.messages.map((m) => [m.topic, m.key])).toEqual([['dead', 'c/deadletter']]);
    const letter = JSON.parse(String(sends[1]!.messages[0]!.value)) as Record<string, unknown>;
    expect([letter['reason'], letter['id'], letter['component']]).toEqual([
      'kafka_rejected',
      'c:slot:1:kafka-rejected',
      'collector-replication',
    ]);
    sends[1]!.ack();
    await tick();
    expect([confirmed, refused]).toEqual([[10n], ['k1']]);

    sink.add(event(3), { position: 30n });
    await tick();
    sends[2]!.fail(new VigieError(KAFKA_ERRORS.AUTHORIZATION, 'no ACL'));
    await tick();
    sink.add(event(4), { position: 40n });
    await tick();
    expect(sends).toHaveLength(3); // nothing sent after the failure
    expect(confirmed).toEqual([10n]);
    expect(failures).toMatchObject([{ code: 'VIGIE_KAFKA_AUTHORIZATION' }]);
  });

  it('dead-letters an event the contract refuses, counted, and routes the rest by topicOf()', async () => {
    const { producer, sends } = manualProducer();
    const invalid: string[] = [];
    const sink = outbox(producer, {
      topics: { activity: 'act', changes: 't', deadletter: 'dead' },
      onInvalid: (e) => invalid.push(e.id),
    });
    sink.add({ ...event(1), retainedWalBytes: -1 } as VigieEvent);
    sink.add({
      v: 1,
      id: 'c:heartbeat:collector-replication:h:1',
      kind: 'collector.heartbeat',
      cluster: 'c',
      ts: '2026-11-26T08:00:00.000Z',
      collector: 'collector-replication',
      instance: 'h',
    });
    await tick();
    expect(sends[0]!.messages.map((m) => [m.topic, m.key])).toEqual([['dead', 'c/deadletter']]);
    const letter = JSON.parse(String(sends[0]!.messages[0]!.value)) as Record<string, unknown>;
    expect([letter['reason'], letter['id']]).toEqual(['invalid_event', 'c:slot:1:invalid']);
    expect(invalid).toEqual(['c:slot:1']);
    sends[0]!.ack();
    await tick();
    expect(sends[1]!.messages.map((m) => [m.topic, m.key])).toEqual([['act', 'c/collector/collector-replication/h']]);
  });
});
