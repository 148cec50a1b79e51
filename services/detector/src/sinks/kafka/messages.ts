import { encodeAlert, encodeDeadLetter, refusedDeadLetter, type Alert, type DeadLetter } from '@vigie/contract';
import type { OutgoingMessage, RejectedMessage as RefusedByKafka, ReliableProducer } from '@vigie/kafka';

/** Alerts as Kafka messages keyed by alert id: every state of one incident lands in one partition, in order. */
export function alertMessages(alerts: readonly Alert[], topic: string): OutgoingMessage[] {
  return alerts.map((a) => ({ topic, key: a.id, value: encodeAlert(a) }));
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
