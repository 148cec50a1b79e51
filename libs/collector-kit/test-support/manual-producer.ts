import type { OutgoingMessage, RejectedMessage, ReliableProducer, SendResult } from '@vigie/kafka';

/** One send of a {@link manualProducer}: its messages, and how the test answers it. */
export interface ManualSend {
  messages: readonly OutgoingMessage[];
  /** Kafka's acknowledgement, with the messages it refused for good (none by default). */
  ack: (rejected?: RejectedMessage[]) => void;
  fail: (error: unknown) => void;
}

/** A producer whose sends resolve only when the test says so (Kafka's acknowledgement). */
export function manualProducer(): { producer: ReliableProducer; sends: ManualSend[] } {
  const sends: ManualSend[] = [];
  const producer: ReliableProducer = {
    send: (messages) =>
      new Promise<SendResult>((resolve, fail) =>
        sends.push({ messages, ack: (rejected = []) => resolve({ rejected }), fail }),
      ),
    state: 'ready',
    lastError: undefined,
    stop: () => Promise.resolve(),
  };
  return { producer, sends };
}
