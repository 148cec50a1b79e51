import type { ReliableProducer } from '@vigie/kafka';
import type { Readiness } from '@vigie/runtime';

/** What readiness looks at. */
export interface ReadinessState {
  consuming: boolean;
  producer: ReliableProducer | undefined;
  storeError: string | undefined;
}

/** The detector is ready once in the consumer group, with alert sends and the store working. */
export function readinessOf({ consuming, producer, storeError }: ReadinessState): Readiness {
  const reasons: string[] = [];
  // What anonymous callers see: the component and its state, never a host name or a driver message.
  const summary: string[] = [];
  if (!consuming) {
    reasons.push('consumer: not in the group yet');
    summary.push('consumer: not in the group yet');
  }
  if (producer?.state === 'failing') {
    reasons.push(`kafka: ${producer.lastError ?? 'alert sends failing'}`);
    summary.push('kafka: alert sends failing');
  }
  if (storeError !== undefined) {
    reasons.push(`store: ${storeError}`);
    summary.push('store: unreachable');
  }
  return { ready: reasons.length === 0, reasons, summary };
}
