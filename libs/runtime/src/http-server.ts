import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { VigieError, type ErrorCode } from '@vigie/errors';
import { RUNTIME_ERRORS } from './errors.js';

/**
 * Who may call a route. Every route of a service's HTTP server is `protected` unless its options say
 * `config: { access: 'public' }`: a route someone forgets to declare is refused, never exposed.
 */
export type RouteAccess = 'public' | 'protected';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** See {@link RouteAccess}; absent means protected. */
    access?: RouteAccess;
  }
}

/** Route options of a route anyone may call (no personal data, no internals behind it). */
export const PUBLIC_ROUTE = { config: { access: 'public' as RouteAccess } } as const;

/** Readiness of a service: ready, or not with the reasons (e.g. `kafka: producer cannot reach the broker`). */
export interface Readiness {
  ready: boolean;
  /** Full reasons, `<component>: <what is wrong>`; may name hosts and carry driver messages (callers with access only). */
  reasons: string[];
  /**
   * What an anonymous caller of `/readyz` sees, one line per reason without internals (`kafka: unreachable`).
   * When absent, each reason is cut to its component (`kafka: not ready`).
   */
  summary?: string[];
}

/** Options of {@link buildHttpServer}. */
export interface HttpServerOptions {
  registry: Registry;
  /** Asked on every `/readyz`; must be cheap (reads state, does no I/O). */
  readiness?: () => Readiness;
  /** Largest accepted request body, bytes. */
  bodyLimit?: number;
  /**
   * Decides whether a request may reach a protected route (bearer token, later a session cookie). Absent: no
   * request may, so a service with only public routes cannot expose a protected one by accident.
   */
  authenticate?: (request: FastifyRequest) => boolean;
  /** `WWW-Authenticate` challenge sent with a 401. */
  challenge?: string;
  /**
   * Answers a request `authenticate` refused, when the service has a better answer than the 401 (the detector sends
   * a browser on an evidence page to its sign-in page). Returns undefined to keep the 401.
   */
  unauthorized?: (request: FastifyRequest, reply: FastifyReply) => FastifyReply | undefined;
  /** Where failed requests are logged (codes and SQLSTATEs only, never request data). */
  logger?: Pick<Logger, 'error' | 'warn'>;
}

/** Body of every 4xx/5xx answer of a Vigie HTTP server: a stable code and a generic message. */
export interface HttpErrorBody {
  error: string;
  message: string;
  requestId?: string;
}

const COMPONENT = /^[A-Za-z][A-Za-z0-9_-]{0,40}$/;

/** The anonymous view of readiness: each reason cut to its component name, or the service's own summary. */
export function publicReadinessReasons(state: Readiness): string[] {
  if (state.summary) return state.summary;
  return state.reasons.map((reason) => {
    const component = reason.split(':', 1)[0]?.trim() ?? '';
    return COMPONENT.test(component) && component !== reason ? `${component}: not ready` : 'not ready';
  });
}

/** PostgreSQL error classes whose messages name only Vigie's own roles, databases and server conditions. */
const SAFE_SQLSTATE_CLASSES = new Set(['08', '28', '3D', '53', '57', '58']);

/**
 * Facts about an error that are safe for a service log: codes, SQLSTATEs and Vigie's own messages along the cause
 * chain. A driver's message can quote values of the request or the row (`invalid input syntax …: "<value>"`), so a
 * foreign message is kept only for connection, authentication and server-condition errors.
 */
export function loggableErrorFacts(error: unknown): Record<string, unknown>[] {
  const facts: Record<string, unknown>[] = [];
  let cur: unknown = error;
  for (let depth = 0; depth < 5 && cur instanceof Error; depth += 1) {
    const code = (cur as { code?: unknown }).code;
    const fact: Record<string, unknown> = { name: cur.name };
    if (cur instanceof VigieError) {
      fact['code'] = cur.code;
      fact['message'] = cur.message;
    } else if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) && 'severity' in cur) {
      fact['sqlstate'] = code;
      if (SAFE_SQLSTATE_CLASSES.has(code.slice(0, 2))) fact['message'] = cur.message;
    } else if (typeof code === 'string' && /^[A-Z][A-Z0-9_]{1,60}$/.test(code)) {
      // Node system errors (ECONNREFUSED) and fastify's own (FST_ERR_…): codes, no message (it may quote input).
      fact['code'] = code;
    }
    facts.push(fact);
    cur = cur.cause;
  }
  return facts;
}

/** One route of a service's HTTP server, as registered. */
export interface RouteEntry {
  method: string;
  /** The route pattern (`/api/alerts/:id`). */
  url: string;
  access: RouteAccess;
}

const ROUTES = new WeakMap<FastifyInstance, RouteEntry[]>();

/** Every route of a server built by {@link buildHttpServer} (its own and the service's), for tests and docs. */
export function routeTable(app: FastifyInstance): readonly RouteEntry[] {
  return ROUTES.get(app) ?? [];
}

function errorBody(request: FastifyRequest, error: ErrorCode, message: string): HttpErrorBody {
  return { error, message, requestId: request.id };
}

/** The stable code and generic message of a client error, by status; nothing of the request is echoed. */
function clientError(status: number): { error: ErrorCode; message: string } {
  if (status === 404) return { error: RUNTIME_ERRORS.API_NOT_FOUND, message: 'not found' };
  if (status === 413) return { error: RUNTIME_ERRORS.API_TOO_LARGE, message: 'request body too large' };
  if (status === 415) return { error: RUNTIME_ERRORS.API_BAD_REQUEST, message: 'unsupported content type' };
  return { error: RUNTIME_ERRORS.API_BAD_REQUEST, message: 'invalid request' };
}

/**
 * The fastify server every service exposes: `/metrics` (Prometheus text), `/healthz` (the process answers),
 * `/readyz` (it does its job: 200, or 503 with the reasons). Services add their own routes before `listen`.
 *
 * Access is decided from the route that matched, after the router decoded the path, never from the raw URL: a
 * route is protected unless declared {@link PUBLIC_ROUTE}, and a request that matches no route is refused like a
 * protected one (unknown paths reveal nothing, not even that they are unknown). Errors answer with a code and a
 * generic message; what went wrong goes to the service log, as codes.
 */
export function buildHttpServer({
  registry,
  readiness = () => ({ ready: true, reasons: [] }),
  bodyLimit = 1 << 20,
  authenticate = () => false,
  challenge = 'Bearer realm="vigie"',
  unauthorized,
  logger,
}: HttpServerOptions): FastifyInstance {
  const app = Fastify({
    logger: false,
    bodyLimit,
    // A URL the router cannot decode (`/%zz`): fastify's own answer quotes it back.
    frameworkErrors: (error, request: FastifyRequest, reply: FastifyReply) => {
      logger?.warn({ http: { method: request.method, facts: loggableErrorFacts(error) } }, 'bad request URL');
      void reply.code(400).send(errorBody(request, RUNTIME_ERRORS.API_BAD_REQUEST, 'invalid request'));
    },
  });

  const routes: RouteEntry[] = [];
  ROUTES.set(app, routes);
  app.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    const access = route.config?.access === 'public' ? 'public' : 'protected';
    for (const method of methods) routes.push({ method, url: route.url, access });
  });

  // Registered before any route, on the root instance: every route of every plugin inherits it.
  app.addHook('onRequest', async (request, reply) => {
    if (request.routeOptions.config.access === 'public') return;
    if (authenticate(request)) return;
    const answered = unauthorized?.(request, reply);
    if (answered) return answered;
    return reply
      .code(401)
      .header('www-authenticate', challenge)
      .send(errorBody(request, RUNTIME_ERRORS.API_UNAUTHORIZED, 'missing or wrong credentials'));
  });

  // Reached only by authenticated callers (the hook above answers the others first).
  app.setNotFoundHandler(async (request, reply) => {
    return reply.code(404).send(errorBody(request, RUNTIME_ERRORS.API_NOT_FOUND, 'not found'));
  });

  app.setErrorHandler(async (error, request, reply) => {
    const status = (error as { statusCode?: unknown }).statusCode;
    const route = request.routeOptions.url ?? '(no route)';
    if (typeof status === 'number' && status >= 400 && status < 500) {
      const { error: code, message } = clientError(status);
      logger?.warn({ http: { method: request.method, route, status, facts: loggableErrorFacts(error) } }, message);
      return reply.code(status).send(errorBody(request, code, message));
    }
    logger?.error(
      { http: { method: request.method, route, requestId: request.id, facts: loggableErrorFacts(error) } },
      'request failed',
    );
    return reply.code(500).send(errorBody(request, RUNTIME_ERRORS.API_INTERNAL, 'internal error; see the service log'));
  });

  app.get('/metrics', PUBLIC_ROUTE, async (_req, reply) => {
    const body = await registry.metrics();
    return reply.header('content-type', registry.contentType).send(body);
  });
  app.get('/healthz', PUBLIC_ROUTE, async () => ({ status: 'ok' }));
  app.get('/readyz', PUBLIC_ROUTE, async (request: FastifyRequest, reply: FastifyReply) => {
    const state = readiness();
    // Full reasons name hosts and quote driver errors: only for callers who could reach protected routes.
    const reasons = authenticate(request) ? state.reasons : publicReadinessReasons(state);
    return reply.code(state.ready ? 200 : 503).send({ status: state.ready ? 'ready' : 'not ready', reasons });
  });
  return app;
}
