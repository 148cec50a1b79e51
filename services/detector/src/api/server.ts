import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Registry } from 'prom-client';
import { buildHttpServer, type Logger, type Readiness } from '@vigie/runtime';
import type { AlertStore } from '../sinks/store/alert-store.js';
import { createCsrf } from '../web/csrf.js';
import { redirectToSignIn, registerEvidencePages, sessionOf, type EvidencePagesOptions } from '../web/routes.js';
import { createSessionStore, type SessionStore } from '../web/sessions.js';
import { createTokenCheck } from '../web/users.js';
import { tokenAuthenticator } from './auth.js';
import { registerApi, type ApiOptions } from './routes.js';

const DEFAULT_SESSION_MAX_MS = 12 * 60 * 60_000;

/** Options of {@link buildApiServer}. */
export interface ApiServerOptions extends ApiOptions {
  store: ApiOptions['store'] & Pick<AlertStore, 'getAlertByRef' | 'alertRevisions'>;
  registry: Registry;
  /** Shared bearer token; with no {@link users} either, anonymous access (only when the configuration allowed it). */
  token: string | undefined;
  /** Personal tokens (`api.users`, files already read): each signs in under its holder's name. */
  users?: readonly { name: string; token: string }[];
  readiness?: () => Readiness;
  logger?: Logger;
  /** Evidence pages' sessions and cookies (defaults: 1 h idle, 12 h at most, cookies without `Secure`). */
  web?: {
    sessionIdleMs?: number;
    sessionMaxMs?: number;
    secureCookies?: boolean;
    runbookUrl?: EvidencePagesOptions['runbookUrl'];
    onSignIn?: EvidencePagesOptions['onSignIn'];
  };
  /** Sessions to use (tests); default: a new in-memory map. */
  sessions?: SessionStore;
}

/**
 * The detector's HTTP server: the runtime's /metrics, /healthz and /readyz, the evidence API (bearer token) and the
 * evidence pages (session cookie from `/signin`). Every route is protected unless declared public; which credential
 * a protected route takes is its `credential` (bearer unless `session`), so a bearer token never opens a page and a
 * cookie never calls the API (no CSRF surface on the JSON API). The detector and the tests build it here.
 */
export function buildApiServer({
  registry,
  token,
  users = [],
  readiness,
  logger,
  web = {},
  sessions = createSessionStore({
    idleMs: web.sessionIdleMs ?? 60 * 60_000,
    maxMs: web.sessionMaxMs ?? DEFAULT_SESSION_MAX_MS,
  }),
  ...api
}: ApiServerOptions): FastifyInstance {
  const checkToken = createTokenCheck(token, users);
  const anonymous = token === undefined && users.length === 0;
  const bearer = tokenAuthenticator(anonymous ? undefined : checkToken);
  const authenticate = (request: FastifyRequest) =>
    request.routeOptions.config.credential === 'session' ? sessionOf(sessions, request) !== undefined : bearer(request);
  const http = buildHttpServer({
    registry,
    authenticate,
    unauthorized: redirectToSignIn,
    ...(readiness ? { readiness } : {}),
    ...(logger ? { logger } : {}),
  });
  registerApi(http, api);
  registerEvidencePages(http, {
    store: api.store,
    sessions,
    csrf: createCsrf(),
    checkToken,
    anonymous,
    secureCookies: web.secureCookies ?? false,
    sessionMaxMs: web.sessionMaxMs ?? DEFAULT_SESSION_MAX_MS,
    ...(web.runbookUrl ? { runbookUrl: web.runbookUrl } : {}),
    ...(api.onAck ? { onAck: api.onAck } : {}),
    ...(web.onSignIn ? { onSignIn: web.onSignIn } : {}),
  });
  return http;
}
