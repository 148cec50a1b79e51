import { Counter, type Registry } from 'prom-client';

/** The receiver's metrics. */
export function createReceiverMetrics(registry: Registry) {
  return {
    received: new Counter({
      name: 'vigie_receiver_notifications_total',
      help: 'Notifications Alertmanager delivered to the local receiver.',
      registers: [registry],
    }),
  };
}
