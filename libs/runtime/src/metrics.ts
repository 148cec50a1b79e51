import { Registry, collectDefaultMetrics } from 'prom-client';

/** A Prometheus registry with the process and Node.js default metrics, labelled with the service name. */
export function createMetricsRegistry(service: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry });
  return registry;
}
