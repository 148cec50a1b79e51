import Fastify, { type FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';

/** Readiness of a service: ready, or not with the reasons (e.g. `kafka: producer cannot reach the broker`). */
export interface Readiness {
  ready: boolean;
  reasons: string[];
}

/** Options of {@link buildHttpServer}. */
export interface HttpServerOptions {
  registry: Registry;
  /** Asked on every `/readyz`; must be cheap (reads state, does no I/O). */
  readiness?: () => Readiness;
  /** Largest accepted request body, bytes. */
  bodyLimit?: number;
}

/**
 * The fastify server every service exposes: `/metrics` (Prometheus text), `/healthz` (the process answers),
 * `/readyz` (it does its job: 200, or 503 with the reasons). Services add their own routes before `listen`.
 */
export function buildHttpServer({
  registry,
  readiness = () => ({ ready: true, reasons: [] }),
  bodyLimit = 1 << 20,
}: HttpServerOptions): FastifyInstance {
  const app = Fastify({ logger: false, bodyLimit });
  app.get('/metrics', async (_req, reply) => {
    const body = await registry.metrics();
    return reply.header('content-type', registry.contentType).send(body);
  });
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_req, reply) => {
    const state = readiness();
    return reply
      .code(state.ready ? 200 : 503)
      .send({ status: state.ready ? 'ready' : 'not ready', reasons: state.reasons });
  });
  return app;
}
