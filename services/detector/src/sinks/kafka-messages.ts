import {
  encodeAlert,
  encodeDeadLetter,
  refusedDeadLetter,
  type Alert,
  type ContractError,
  type DeadLetter,
} from '@vigie/contract';
import type { OutgoingMessage, RejectedMessage as RefusedByKafka, ReliableProducer } from '@vigie/kafka';

/** Alerts as Kafka messages keyed by alert id: every state of one incident lands in one partition, in order. */
export function alertMessages(alerts: readonly Alert[], topic: string): OutgoingMessage[] {
  return alerts.map((a) => ({ topic, key: a.id, value: encodeAlert(a) }));
}

/**
 * The start of a message with every string value and number replaced, keys kept: enough to see the shape of what
 * was wrong without carrying a statement or a personal value into the dead-letter topic.
 */
export function redactedExcerpt(value: Buffer | null, max = 1024): string {
  if (!value) return '';
  const text = value.subarray(0, 4096).toString('utf8');
  return text
    .replace(/"((?:[^"\\]|\\.)*)"(\s*:)?/g, (_m, key: string, colon: string | undefined) =>
      colon ? `"${key}"${colon}` : '"…"',
    )
    .replace(/-?\b\d+(\.\d+)?([eE][+-]?\d+)?\b/g, '0')
    .slice(0, max);
}

/** Where the undecodable message was, and why it was refused. */
export interface RejectedMessage {
  topic: string;
  partition: number;
  offset: string;
  value: Buffer | null;
  error: ContractError;
}

/** The dead letter of a message the detector could not decode; its id makes a replayed batch idempotent. */
export function deadLetterOf(r: RejectedMessage, cluster: string, now: Date = new Date()): DeadLetter {
  const notJson = r.error.issues.length === 1 && r.error.issues[0]?.message === 'not valid JSON';
  return {
    v: 1,
    id: `detector:${r.topic}:${r.partition}:${r.offset}`,
    kind: 'deadletter',
    cluster,
    ts: now.toISOString(),
    component: 'detector',
    reason: r.value === null || notJson ? 'undecodable' : 'invalid_event',
    // Field paths and zod's messages only: they name what is wrong, not the values.
    detail: r.error.issues
      .slice(0, 10)
      .map((i) => `${i.path || '(root)'}: ${i.message}`)
      .join('; ')
      .slice(0, 1000),
    source: { file: `kafka:${r.topic}/${r.partition}`, offset: Number(r.offset) },
    excerpt: redactedExcerpt(r.value),
  };
}

/** Dead letters as Kafka messages, keyed by their source position. */
export function deadLetterMessages(letters: readonly DeadLetter[], topic: string): OutgoingMessage[] {
  return letters.map((d) => ({ topic, key: d.id, value: encodeDeadLetter(d) }));
}

/** Where {@link publishAlerts} writes. */
export interface AlertTopics {
  alerts: string;
  deadletter: string;
}

/**
 * Sends a batch's alerts and dead letters and waits for Kafka. An alert or letter Kafka refuses for good (larger
 * than the topic's `max.message.bytes`) is replaced by a dead letter naming it (the alert itself still reaches the
 * store and Alertmanager); `onRejected` counts each. A refusal of the detector itself (authentication, TLS, a
 * missing ACL) rejects with its coded error: the batch is not committed, and the consumer stops on it.
 */
export async function publishAlerts(
  producer: ReliableProducer,
  alerts: readonly Alert[],
  deadLetters: readonly DeadLetter[],
  { topics, cluster, onRejected }: { topics: AlertTopics; cluster: string; onRejected?: (r: RefusedByKafka) => void },
): Promise<void> {
  const { rejected } = await producer.send([
    ...alertMessages(alerts, topics.alerts),
    ...deadLetterMessages(deadLetters, topics.deadletter),
  ]);
  if (rejected.length === 0) return;
  for (const r of rejected) onRejected?.(r);
  const letters = rejected
    .filter((r) => r.message.topic !== topics.deadletter)
    .map(({ message, error }) =>
      refusedDeadLetter(
        {
          topic: message.topic,
          value: message.value,
          bytes: Number(error.context['bytes'] ?? 0),
          error: String(error.context['error'] ?? error.code),
        },
        cluster,
        'detector',
      ),
    );
  if (letters.length > 0) await producer.send(deadLetterMessages(letters, topics.deadletter));
}
