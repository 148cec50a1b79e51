import { randomBytes } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { PUBLIC_ROUTE } from '@vigie/runtime';
import { alertRef, type AlertFilter, type AlertStore } from '../sinks/store/alert-store.js';
import { parseCookies, serializeCookie } from './cookies.js';
import type { Csrf } from './csrf.js';
import { acceptFormBodies } from './form-body.js';
import { toDocument, type SafeHtml } from './html.js';
import { alertListPage, FILTER_FIELDS, type FilterField } from './pages/alert-list-page.js';
import { alertPage } from './pages/alert-page.js';
import { errorPage, type Viewer } from './pages/layout.js';
import { signInPage } from './pages/signin-page.js';
import { setPageHeaders } from './security-headers.js';
import { saveFilter, type SessionStore, type WebSession } from './sessions.js';
import { ICON, ICON_PATH, STYLESHEET, STYLESHEET_PATH } from './style.js';
import type { TokenCheck } from './users.js';
import { DETECTOR_ERRORS } from '../errors.js';

/** How a route is reached: `bearer` (the API: an Authorization header) or `session` (the evidence pages' cookie). */
export type RouteCredential = 'bearer' | 'session';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** See {@link RouteCredential}; absent means bearer. Only meaningful on protected routes. */
    credential?: RouteCredential;
  }
}

/** Route options of an evidence page: protected, reached with the session cookie. */
export const SESSION_ROUTE = { config: { credential: 'session' as RouteCredential } } as const;

/** Name of the session cookie. */
export const SESSION_COOKIE = 'vigie_session';
/** Name of the sign-in form's cookie (a nonce its CSRF token is bound to). */
export const SIGNIN_COOKIE = 'vigie_signin';

const REF = /^[0-9a-f]{32}$/;
const LOCAL_NEXT = /^\/alerts(\/[0-9a-f]{32})?$/;
const LIST_LIMIT = 200;
const TIMELINE_LIMIT = 500;

/** Options of {@link registerEvidencePages}. */
export interface EvidencePagesOptions {
  store: Pick<AlertStore, 'listAlerts' | 'getAlertByRef' | 'alertRevisions' | 'ack' | 'sessionTimeline'>;
  sessions: SessionStore;
  csrf: Csrf;
  /** Whose token a string is (the API's token check). */
  checkToken: TokenCheck;
  /** No token configured (api.allowAnonymous): a name signs in. */
  anonymous: boolean;
  /** `Secure` cookies: on-call reaches the detector over TLS. */
  secureCookies: boolean;
  /** `Max-Age` of the session cookie: the session's maximum lifetime (the server ends it anyway). */
  sessionMaxMs: number;
  /** Runbook link of a rule, if any. */
  runbookUrl?: (rule: string) => string;
  /** Called when an alert is acknowledged from a page (audit log: who, which alert id). */
  onAck?: (id: string, by: string) => void;
  /** Called on a sign-in attempt (audit log; never the token). */
  onSignIn?: (ok: boolean, user: string | undefined) => void;
}

/** The session of a request's cookie, if live. */
export function sessionOf(sessions: SessionStore, request: FastifyRequest): WebSession | undefined {
  return sessions.get(parseCookies(request.headers.cookie).get(SESSION_COOKIE));
}

/**
 * Where the server sends a request that has no valid session for a session route: GET to the sign-in page (with the
 * page it wanted, when that is an evidence path), anything else to the sign-in page as well. Undefined for other
 * routes (they keep the API's 401).
 */
export function redirectToSignIn(request: FastifyRequest, reply: FastifyReply): FastifyReply | undefined {
  if (request.routeOptions.config.credential !== 'session') return undefined;
  const path = request.url.split('?', 1)[0] ?? '';
  const next = request.method === 'GET' && LOCAL_NEXT.test(path) ? `?next=${encodeURIComponent(path)}` : '';
  setPageHeaders(reply);
  return reply.code(303).header('location', `/signin${next}`).send();
}

function nameProblem(name: string): string | undefined {
  if (name.length > 100) return 'a name of at most 100 characters';
  // eslint-disable-next-line no-control-regex -- refusing control characters is the point
  if (/[\u0000-\u001f\u007f]/.test(name)) return 'a name without control characters';
  return undefined;
}

/** A `datetime-local` value (no zone: read as UTC) or an ISO instant; undefined when it is neither. */
export function parseInstant(value: string): Date | undefined {
  const v = /(Z|[+-]\d\d:\d\d)$/.test(value) ? value : `${value}Z`;
  if (!/^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:\d\d)$/.test(v)) return undefined;
  const ms = Date.parse(v);
  return Number.isNaN(ms) ? undefined : new Date(ms);
}

/** The store filter of a posted filter form, or the first problem with it. */
export function toStoreFilter(form: Partial<Record<FilterField, string>>): AlertFilter | string {
  const filter: AlertFilter = { limit: LIST_LIMIT };
  for (const field of FILTER_FIELDS) {
    const v = form[field];
    if (v === undefined || v === '') continue;
    if (v.length > 200) return `${field}: at most 200 characters`;
    if (field === 'severity') {
      if (!['critical', 'warning', 'info'].includes(v)) return 'severity: critical, warning or info';
      filter.severity = v;
    } else if (field === 'status') {
      if (v !== 'firing' && v !== 'resolved') return 'status: firing or resolved';
      filter.status = v;
    } else if (field === 'since' || field === 'until') {
      const at = parseInstant(v);
      if (!at) return `${field}: a date and time (UTC), e.g. 2026-11-26T07:40`;
      filter[field] = at;
    } else {
      filter[field] = v;
    }
  }
  return filter;
}

/**
 * The evidence pages on the detector's server: `/signin`, `/signout`, `/alerts` (list and filters), `/alerts/:ref`
 * (one alert and its acknowledgement), and their stylesheet. Server-rendered HTML, no script. Every page but the
 * sign-in page and the stylesheet needs the session cookie (the server's access hook checks it, see
 * {@link SESSION_ROUTE}); every form carries a CSRF token checked before anything else. URLs carry no personal data:
 * alerts are addressed by {@link alertRef}, filters by an opaque id kept in the session.
 */
export function registerEvidencePages(app: FastifyInstance, options: EvidencePagesOptions): void {
  const { store, sessions, csrf, checkToken, anonymous, secureCookies, sessionMaxMs, runbookUrl, onAck, onSignIn } =
    options;
  const cookie = (name: string, value: string, maxAgeSeconds: number) =>
    serializeCookie(name, value, { secure: secureCookies, maxAgeSeconds });

  const send = (reply: FastifyReply, page: SafeHtml, status = 200) =>
    setPageHeaders(reply).code(status).type('text/html; charset=utf-8').send(toDocument(page));

  const viewerOf = (session: WebSession): Viewer => ({ user: session.user, csrf: csrf.issue(session.id) });

  /** The session of a page request; the access hook already refused requests without one. */
  const mustSession = (request: FastifyRequest): WebSession => {
    const session = sessionOf(sessions, request);
    if (!session) throw new Error('session route reached without a session');
    return session;
  };

  const forbidden = (reply: FastifyReply, viewer?: Viewer) =>
    send(
      reply,
      errorPage(
        'Form expired',
        DETECTOR_ERRORS.WEB_CSRF,
        'This form was not issued by this detector for your session (or the detector restarted): reload the page and submit again.',
        viewer,
      ),
      403,
    );

  const fields = (request: FastifyRequest): Record<string, string> =>
    typeof request.body === 'object' && request.body !== null ? (request.body as Record<string, string>) : {};

  const renderSignIn = (reply: FastifyReply, next: string, error?: string, status = 200) => {
    const nonce = randomBytes(24).toString('base64url');
    void reply.header('set-cookie', cookie(SIGNIN_COOKIE, nonce, 600));
    return send(
      reply,
      signInPage({ csrf: csrf.issue(`signin:${nonce}`), next, anonymous, ...(error !== undefined ? { error } : {}) }),
      status,
    );
  };

  app.register(async (scope) => {
    acceptFormBodies(scope);

    scope.get(STYLESHEET_PATH, PUBLIC_ROUTE, async (_request, reply) =>
      setPageHeaders(reply).type('text/css; charset=utf-8').send(STYLESHEET),
    );

    scope.get(ICON_PATH, PUBLIC_ROUTE, async (_request, reply) =>
      setPageHeaders(reply).type('image/svg+xml').send(ICON),
    );

    scope.get('/signin', PUBLIC_ROUTE, async (request, reply) => {
      const next = (request.query as { next?: unknown }).next;
      return renderSignIn(reply, typeof next === 'string' && LOCAL_NEXT.test(next) ? next : '/alerts');
    });

    scope.post('/signin', PUBLIC_ROUTE, async (request, reply) => {
      const form = fields(request);
      const nonce = parseCookies(request.headers.cookie).get(SIGNIN_COOKIE);
      if (!csrf.verify(nonce === undefined ? undefined : `signin:${nonce}`, form['csrf'])) return forbidden(reply);
      const next = form['next'] !== undefined && LOCAL_NEXT.test(form['next']) ? form['next'] : '/alerts';
      const typedName = (form['name'] ?? '').trim();
      const problem = nameProblem(typedName);
      if (problem !== undefined) return renderSignIn(reply, next, `Name: ${problem}.`, 400);
      const owner = anonymous ? { name: 'anonymous', shared: true } : checkToken(form['token'] ?? '');
      if (!owner) {
        onSignIn?.(false, undefined);
        return renderSignIn(reply, next, `This token is not valid here (${DETECTOR_ERRORS.WEB_SIGNIN_FAILED}).`, 401);
      }
      // A personal token names its holder; the shared one is recorded under the name typed, if any.
      const user = owner.shared && typedName !== '' ? typedName : owner.name;
      const session = sessions.create(user);
      onSignIn?.(true, user);
      return setPageHeaders(reply)
        .code(303)
        .header('set-cookie', [cookie(SESSION_COOKIE, session.id, sessionMaxMs / 1000), cookie(SIGNIN_COOKIE, '', 0)])
        .header('location', next)
        .send();
    });

    scope.post('/signout', SESSION_ROUTE, async (request, reply) => {
      const session = mustSession(request);
      if (!csrf.verify(session.id, fields(request)['csrf'])) return forbidden(reply, viewerOf(session));
      sessions.destroy(session.id);
      return setPageHeaders(reply)
        .code(303)
        .header('set-cookie', cookie(SESSION_COOKIE, '', 0))
        .header('location', '/signin')
        .send();
    });

    scope.get('/', SESSION_ROUTE, async (_request, reply) =>
      setPageHeaders(reply).code(303).header('location', '/alerts').send(),
    );

    scope.get('/alerts', SESSION_ROUTE, async (request, reply) => {
      const session = mustSession(request);
      const filterId = (request.query as { filter?: unknown }).filter;
      const form = (typeof filterId === 'string' ? session.filters.get(filterId) : undefined) ?? {};
      const filter = toStoreFilter(form);
      const viewer = viewerOf(session);
      if (typeof filter === 'string') {
        return send(reply, alertListPage({ viewer, alerts: [], filter: form, error: filter, limit: LIST_LIMIT }), 400);
      }
      const alerts = await store.listAlerts(filter);
      return send(
        reply,
        alertListPage({
          viewer,
          alerts: alerts.map((stored) => ({ stored, ref: alertRef(stored.alert.id) })),
          filter: form,
          limit: LIST_LIMIT,
        }),
      );
    });

    scope.post('/alerts/filter', SESSION_ROUTE, async (request, reply) => {
      const session = mustSession(request);
      const form = fields(request);
      if (!csrf.verify(session.id, form['csrf'])) return forbidden(reply, viewerOf(session));
      const kept: Record<string, string> = {};
      for (const field of FILTER_FIELDS) {
        const v = form[field]?.trim();
        if (v !== undefined && v !== '') kept[field] = v;
      }
      const problem = toStoreFilter(kept);
      if (typeof problem === 'string') {
        return send(
          reply,
          alertListPage({ viewer: viewerOf(session), alerts: [], filter: kept, error: problem, limit: LIST_LIMIT }),
          400,
        );
      }
      const location = Object.keys(kept).length === 0 ? '/alerts' : `/alerts?filter=${saveFilter(session, kept)}`;
      return setPageHeaders(reply).code(303).header('location', location).send();
    });

    scope.get('/alerts/:ref', SESSION_ROUTE, async (request, reply) => {
      const session = mustSession(request);
      const { ref } = request.params as { ref: string };
      const stored = REF.test(ref) ? await store.getAlertByRef(ref) : undefined;
      if (!stored) {
        return send(
          reply,
          errorPage('No such alert', DETECTOR_ERRORS.WEB_NOT_FOUND, 'No alert has this reference.', viewerOf(session)),
          404,
        );
      }
      const a = stored.alert;
      const [revisions, rows] = await Promise.all([
        store.alertRevisions(a.id),
        a.sessionId !== undefined
          ? store.sessionTimeline(a.cluster, a.sessionId, TIMELINE_LIMIT + 1)
          : Promise.resolve([]),
      ]);
      const acked = (request.query as { acked?: unknown }).acked === '1';
      return send(
        reply,
        alertPage({
          viewer: viewerOf(session),
          stored,
          ref,
          revisions,
          timeline: rows.slice(0, TIMELINE_LIMIT),
          timelineTruncated: rows.length > TIMELINE_LIMIT,
          runbookUrl: runbookUrl?.(a.rule),
          notice: acked ? 'Acknowledgement recorded.' : undefined,
        }),
      );
    });

    scope.post('/alerts/:ref/ack', SESSION_ROUTE, async (request, reply) => {
      const session = mustSession(request);
      const form = fields(request);
      if (!csrf.verify(session.id, form['csrf'])) return forbidden(reply, viewerOf(session));
      const { ref } = request.params as { ref: string };
      const comment = (form['comment'] ?? '').trim();
      const viewer = viewerOf(session);
      if (comment.length > 2000) {
        return send(
          reply,
          errorPage('Comment too long', DETECTOR_ERRORS.WEB_BAD_FORM, 'At most 2000 characters.', viewer),
          400,
        );
      }
      const stored = REF.test(ref) ? await store.getAlertByRef(ref) : undefined;
      if (!stored) {
        return send(
          reply,
          errorPage('No such alert', DETECTOR_ERRORS.WEB_NOT_FOUND, 'No alert has this reference.', viewer),
          404,
        );
      }
      await store.ack(stored.alert.id, session.user, comment === '' ? undefined : comment);
      onAck?.(stored.alert.id, session.user);
      return setPageHeaders(reply).code(303).header('location', `/alerts/${ref}?acked=1`).send();
    });
  });
}
