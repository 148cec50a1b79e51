import type { Kafka } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { ensureTopics } from './topics.js';

/** A stand-in for the admin client: createTopics fails with the given errors, in order, then succeeds. */
function fakeKafka(failures: Error[]) {
  const created: string[][] = [];
  let calls = 0;
  const kafka = {
    admin: () => ({
      connect: async () => undefined,
      disconnect: async () => undefined,
      listTopics: async () => ['existing'],
      createTopics: async ({ topics }: { topics: { topic: string }[] }) => {
        calls += 1;
        const failure = failures.shift();
        if (failure) throw failure;
        created.push(topics.map((t) => t.topic));
        return true;
      },
    }),
  } as unknown as Kafka;
  return { kafka, created, calls: () => calls };
}

const retriable = () => Object.assign(new Error('This server does not host this topic-partition'), { retriable: true });

describe('ensureTopics', () => {
  it('retries what the broker says is retriable, then creates only the missing topics', async () => {
    const f = fakeKafka([retriable(), retriable()]);
    await ensureTopics(f.kafka, ['existing', 'new'], { retryForMs: 10_000 });
    expect(f.calls()).toBe(3);
    expect(f.created).toEqual([['new']]);
  });

  it('fails at once on an error retrying cannot fix', async () => {
    const f = fakeKafka([Object.assign(new Error('Topic authorization failed'), { retriable: false })]);
    await expect(ensureTopics(f.kafka, ['new'])).rejects.toMatchObject({ code: 'VIGIE_KAFKA_TOPICS' });
    expect(f.calls()).toBe(1);
  });

  it('gives up on retriable errors after retryForMs', async () => {
    const f = fakeKafka(Array.from({ length: 100 }, retriable));
    await expect(ensureTopics(f.kafka, ['new'], { retryForMs: 300 })).rejects.toMatchObject({
      code: 'VIGIE_KAFKA_TOPICS',
    });
    expect(f.calls()).toBeGreaterThan(1);
    expect(f.calls()).toBeLessThan(100);
  });
});
