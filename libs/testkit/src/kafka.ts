import { randomUUID } from 'node:crypto';
import { Kafka, logLevel, type KafkaMessage } from 'kafkajs';
import { STACK } from './stack.js';

// Tests name kafkajs's types through the testkit: services reach Kafka only through @vigie/kafka.
export type { Consumer, Kafka, KafkaMessage, Producer } from 'kafkajs';

/** A name no other test uses (topics, groups, slots, databases). */
export function uniqueName(prefix: string): string {
  return `${prefix}_${randomUUID().replace(/-/g, '').slice(0, 12)}`;
}

/** A kafkajs client for tests, quiet: the stack's broker, or `brokers` (a private one). */
export function testKafka(clientId = 'vigie-test', brokers: readonly string[] = STACK.kafkaBrokers): Kafka {
  return new Kafka({ clientId, brokers: [...brokers], logLevel: logLevel.NOTHING });
}

/**
 * Reads a topic from the beginning with a fresh consumer group until `done(all messages so far)` is true or the
 * timeout passes; returns what it read (the caller asserts on it).
 */
export async function readTopic(
  topic: string,
  done: (messages: KafkaMessage[]) => boolean,
  { timeoutMs = 30_000, kafka = testKafka() }: { timeoutMs?: number; kafka?: Kafka } = {},
): Promise<KafkaMessage[]> {
  const consumer = kafka.consumer({ groupId: uniqueName('test-reader'), allowAutoTopicCreation: false });
  const messages: KafkaMessage[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      // eachBatch: a topic shared with a 50,000-statement test is read in seconds, not message by message.
      void consumer.run({
        eachBatch: async ({ batch }) => {
          messages.push(...batch.messages);
          if (done(messages)) {
            clearTimeout(timer);
            resolve();
          }
        },
      });
    });
  } finally {
    await consumer.disconnect();
  }
  return messages;
}
