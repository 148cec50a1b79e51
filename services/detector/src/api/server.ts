import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import { buildHttpServer, type Logger, type Readiness } from '@vigie/runtime';
import { bearerAuthenticator } from './auth.js';
import { registerApi, type ApiOptions } from './routes.js';

/** Options of {@link buildApiServer}. */
export interface ApiServerOptions extends ApiOptions {
  registry: Registry;
  /** Bearer token; undefined = anonymous access (only when the configuration allowed it). */
  token: string | undefined;
  readiness?: () => Readiness;
  logger?: Logger;
}

/**
 * The detector's HTTP server: the runtime's /metrics, /healthz and /readyz plus the evidence API, every route
 * protected by the bearer token unless declared public. The detector and the API tests build it here, the same way.
 */
export function buildApiServer({ registry, token, readiness, logger, ...api }: ApiServerOptions): FastifyInstance {
  const http = buildHttpServer({
    registry,
    authenticate: bearerAuthenticator(token),
    ...(readiness ? { readiness } : {}),
    ...(logger ? { logger } : {}),
  });
  registerApi(http, api);
  return http;
}
