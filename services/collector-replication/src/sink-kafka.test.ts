import { describe, expect, it } from 'vitest';
import type { OutgoingMessage, RejectedMessage, ReliableProducer, SendResult } from '@vigie/kafka';
import { VigieError } from '@vigie/errors';
import { createLogger } from '@vigie/runtime';
import { createKafkaSink } from './sink-kafka.js';
import { KAFKA_ERRORS } from '@vigie/kafka';

/** A producer whose sends resolve only when the test says so (Kafka's acknowledgement). */
function manualProducer() {
  const sends: {
    messages: readonly OutgoingMessage[];
    ack: (rejected?: RejectedMessage[]) => void;
    fail: (e: unknown) => void;
  }[] = [];
  const producer: ReliableProducer = {
    send: (messages) =>
      new Promise<SendResult>((resolve, fail) =>
        sends.push({ messages, ack: (rejected = []) => resolve({ rejected }), fail }),
      ),
    state: 'ready',
    lastError: undefined,
    stop: async () => undefined,
  };
  return { producer, sends };
}

const msg = (n: number): OutgoingMessage => ({ topic: 't', key: `k${n}`, value: Buffer.from(String(n)) });
const tick = () => new Promise((r) => setImmediate(r));
const logger = createLogger('test', { level: 'silent' });
const deadLetterOf = (r: RejectedMessage): OutgoingMessage => ({ topic: 'dead', key: r.message.key, value: 'letter' });

describe('createKafkaSink', () => {
  it('confirms an LSN only after Kafka acknowledged it and everything queued before it', async () => {
    const { producer, sends } = manualProducer();
    const confirmed: bigint[] = [];
    const sink = createKafkaSink({
      producer,
      logger,
      maxBatch: 2,
      deadLetterOf,
      onConfirmed: (l) => confirmed.push(l),
    });
    sink.push(msg(1), 100n);
    sink.push(msg(2)); // a health event: no LSN
    sink.push(msg(3), 300n);
    sink.push(msg(4), 400n);
    sink.push(msg(5), 500n);
    expect(sends).toHaveLength(1); // one batch in flight at a time
    expect(sends[0]!.messages.map((m) => m.key)).toEqual(['k1']);
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
    const sink = createKafkaSink({ producer, logger, maxBatch: 10, deadLetterOf, onConfirmed: () => undefined });
    for (let i = 0; i < 5; i += 1) sink.push(msg(i), BigInt(i + 1));
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
    const sink = createKafkaSink({
      producer,
      logger,
      maxBatch: 10,
      deadLetterOf,
      onConfirmed: (l) => confirmed.push(l),
    });
    sink.push(msg(1), 10n);
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
    const sink = createKafkaSink({
      producer,
      logger,
      maxBatch: 10,
      deadLetterOf,
      onConfirmed: (l) => confirmed.push(l),
      onRejected: (r) => refused.push(r.message.key),
      onFailed: (e) => failures.push(e),
    });
    sink.push(msg(1), 10n);
    await tick();
    const tooLarge = new VigieError(KAFKA_ERRORS.MESSAGE_TOO_LARGE, 'refused');
    sends[0]!.ack([{ message: sends[0]!.messages[0]!, error: tooLarge }]);
    await tick();
    expect(confirmed).toEqual([]); // not before the dead letter landed
    expect(sends[1]!.messages).toEqual([{ topic: 'dead', key: 'k1', value: 'letter' }]);
    sends[1]!.ack();
    await tick();
    expect([confirmed, refused]).toEqual([[10n], ['k1']]);

    sink.push(msg(3), 30n);
    await tick();
    sends[2]!.fail(new VigieError(KAFKA_ERRORS.AUTHORIZATION, 'no ACL'));
    await tick();
    sink.push(msg(4), 40n);
    await tick();
    expect(sends).toHaveLength(3); // nothing sent after the failure
    expect(confirmed).toEqual([10n]);
    expect(failures).toMatchObject([{ code: 'VIGIE_KAFKA_AUTHORIZATION' }]);
  });
});
