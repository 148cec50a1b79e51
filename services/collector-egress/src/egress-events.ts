import type { Outbox } from '@vigie/collector-kit';
import type { VigieEvent } from '@vigie/contract';
import type { CompiledPolicy } from '@vigie/policy';
import type { KeyedEvent, Observation } from './analyze-sockets.js';
import type { EgressMetrics } from './metrics.js';

/** Hands the collector's events to the outbox, counting what it observes and what it must drop. */
export interface EgressEvents {
  /** Queues one event; a droppable one is dropped (and counted) while `maxPendingEvents` are pending. */
  enqueue(key: string | undefined, event: VigieEvent, droppable: boolean): void;
  /** Queues sample events, adding their sent bytes to the observed-bytes counter by client class. */
  emit(events: readonly KeyedEvent[], droppable: boolean): void;
  /** Counts an observation's join failures and missed closes, then queues its events (droppable). */
  record(obs: Observation): void;
}

export interface EgressEventsOptions {
  outbox: Outbox;
  maxPendingEvents: number;
  metrics: EgressMetrics;
  policy: CompiledPolicy;
}

export function createEgressEvents({ outbox, maxPendingEvents, metrics, policy }: EgressEventsOptions): EgressEvents {
  const enqueue = (key: string | undefined, event: VigieEvent, droppable: boolean): void => {
    if (droppable && outbox.pending >= maxPendingEvents) {
      metrics.eventsDropped.inc();
      return;
    }
    outbox.add(event, { key });
  };

  const emit = (events: readonly KeyedEvent[], droppable: boolean): void => {
    for (const { key, event } of events) {
      if (event.bytesSentDelta > 0) {
        const addr = event.session?.clientAddr ?? event.peer?.addr;
        metrics.observedBytes.inc({ client_class: policy.clientClass(addr) }, event.bytesSentDelta);
      }
      enqueue(key, event, droppable);
    }
  };

  const record = (obs: Observation): void => {
    for (const failure of obs.joinFailures) metrics.joinFailures.inc({ reason: failure });
    if (obs.closesMissed > 0) metrics.closesMissed.inc(obs.closesMissed);
    emit(obs.events, true);
  };

  return { enqueue, emit, record };
}
