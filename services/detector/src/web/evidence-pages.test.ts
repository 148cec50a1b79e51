import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import type { Alert } from '@vigie/contract';
import { buildApiServer } from '../api/server.js';
import { sampleAlert } from '../../test-support/fixtures.js';
import { alertRef, type AlertFilter, type StoredAlert } from '../sinks/store/alert-store.js';
import { CONTENT_SECURITY_POLICY } from './security-headers.js';

// The evidence pages on the detector's real server (fastify inject): sign-in, sessions, CSRF, headers, escaping of
// attacker-controlled alert fields, acknowledgements reaching the store the JSON API reads.

const TOKEN = 'pages-test-token-0123456789';
const ALICE_TOKEN = 'alice-personal-token-0123456789';
// Every field an attacker controls, with markup in it.
const HOSTILE = '<script>alert(1)</script><img src=x onerror=alert(2)>"\'';
const ALERT: Alert = sampleAlert({
  id: 'bulk-read:local:role/dba_alice:2026-11-26T01:00:00.000Z',
  summary: `dump by ${HOSTILE}`,
  who: { login: `dba_${HOSTILE}`, effectiveRole: 'app_owner', privileged: true, operator: 'A. Martin' },
  where: { clientAddr: '127.0.0.3', clientClass: 'non-bastion', applicationName: HOSTILE },
  what: { tables: ['public.citizens', `social.${HOSTILE}`], rows: 1200, bytes: 5_000_000, statements: 2 },
  evidence: { eventIds: [], statements: ['SELECT * FROM public.citizens WHERE nir = $1', `COPY ${HOSTILE} TO stdout`] },
  response: [
    {
      action: 'lock',
      mode: 'manual',
      by: 'oncall-carol',
      at: '2026-11-26T01:20:00.000Z',
      role: `dba_${HOSTILE}`,
      result: 'done',
      detail: 'cannot log in until 2026-11-26T05:20:00.000Z (NOLOGIN; Vigie restores LOGIN then)',
      until: '2026-11-26T05:20:00.000Z',
    },
  ],
});
const REF = alertRef(ALERT.id);

function server(options: { users?: boolean; anonymous?: boolean; secureCookies?: boolean } = {}) {
  const alerts = new Map<string, StoredAlert>([[ALERT.id, { alert: ALERT, updatedAt: ALERT.lastSeen }]]);
  const filters: AlertFilter[] = [];
  const http = buildApiServer({
    registry: new Registry(),
    token: options.anonymous ? undefined : TOKEN,
    users: options.users ? [{ name: 'Alice Martin', token: ALICE_TOKEN }] : [],
    baseUrl: () => 'http://127.0.0.1:18080',
    web: {
      runbookUrl: (rule) => `https://example.invalid/runbook#${rule}`,
      secureCookies: options.secureCookies ?? false,
    },
    store: {
      listAlerts: async (f) => {
        filters.push(f);
        return [...alerts.values()];
      },
      getAlert: async (id) => alerts.get(id),
      getAlertByRef: async (ref) => [...alerts.values()].find((s) => alertRef(s.alert.id) === ref),
      alertRevisions: async () => [
        {
          revision: 1,
          severity: 'warning',
          status: 'firing',
          lastSeen: ALERT.firstSeen,
          summary: 'first',
          storedAt: ALERT.firstSeen,
        },
        {
          revision: 2,
          severity: 'critical',
          status: 'firing',
          lastSeen: ALERT.lastSeen,
          summary: 'second',
          storedAt: ALERT.lastSeen,
        },
      ],
      ack: async (id, by, comment) => {
        const s = alerts.get(id);
        if (!s) return undefined;
        const acked: StoredAlert = {
          ...s,
          ack: { at: '2026-11-26T02:00:00.000Z', by, ...(comment ? { comment } : {}) },
        };
        alerts.set(id, acked);
        return acked;
      },
      sessionTimeline: async (cluster, sessionId) => [
        {
          cluster,
          sessionId,
          eventId: 'e1',
          ts: '2026-11-26T01:13:59.000Z',
          kind: 'session.start',
          body: { user: 'dba_alice', database: 'app', clientAddr: '127.0.0.3', applicationName: HOSTILE },
        },
        {
          cluster,
          sessionId,
          eventId: 'e2',
          ts: '2026-11-26T01:14:00.000Z',
          kind: 'statement',
          body: { command: 'SELECT', objects: ['public.citizens'], text: `SELECT ${HOSTILE}`, rows: 1200 },
        },
      ],
    },
  });
  return { http, filters, alerts };
}

const csrfOf = (body: string) => /name="csrf" value="([^"]+)"/.exec(body)?.[1] ?? '';
const cookieValue = (setCookie: string | string[] | undefined, name: string) => {
  const all = Array.isArray(setCookie) ? setCookie : setCookie ? [setCookie] : [];
  return all.find((c) => c.startsWith(`${name}=`));
};
const form = (fields: Record<string, string>) => ({
  headers: { 'content-type': 'application/x-www-form-urlencoded' },
  payload: new URLSearchParams(fields).toString(),
});

async function signIn(http: ReturnType<typeof server>['http'], token = TOKEN, name = 'on-call Bob') {
  const page = await http.inject('/signin');
  const signinCookie = cookieValue(page.headers['set-cookie'], 'vigie_signin')?.split(';')[0] ?? '';
  const res = await http.inject({
    method: 'POST',
    url: '/signin',
    ...form({ csrf: csrfOf(page.body), token, name, next: `/alerts/${REF}` }),
    cookies: Object.fromEntries([signinCookie.split('=') as [string, string]]),
  });
  const session = cookieValue(res.headers['set-cookie'], 'vigie_session');
  return { res, session, cookie: session?.split(';')[0] ?? '' };
}

// Each test drives a whole server through several requests: under a loaded machine (the integration suite running
// beside) the first one measured 17 s, past the unit project's 10 s default.
describe('evidence pages', { timeout: 30_000 }, () => {
  it('send an unauthenticated browser to the sign-in page, keeping where it wanted to go', async () => {
    const { http } = server();
    const list = await http.inject('/alerts');
    expect(list.statusCode).toBe(303);
    expect(list.headers.location).toBe('/signin?next=%2Falerts');
    const one = await http.inject(`/alerts/${REF}`);
    expect(one.headers.location).toBe(`/signin?next=${encodeURIComponent(`/alerts/${REF}`)}`);
    // A bearer token opens the API, never a page; a made-up session cookie opens nothing.
    const bearer = await http.inject({ url: '/alerts', headers: { authorization: `Bearer ${TOKEN}` } });
    expect(bearer.statusCode).toBe(303);
    const forged = await http.inject({ url: '/alerts', headers: { cookie: 'vigie_session=abc' } });
    expect(forged.statusCode).toBe(303);
    const signin = await http.inject('/signin?next=https://evil.example/');
    expect(signin.statusCode).toBe(200);
    expect(signin.body).toContain('name="next" value="/alerts"');
  });

  it('sign in with the token: a session cookie that is HttpOnly, SameSite=Strict, and the page the link named', async () => {
    const { http } = server();
    const { res, session } = await signIn(http);
    expect(res.statusCode).toBe(303);
    expect(res.headers.location).toBe(`/alerts/${REF}`);
    // Max-Age: the default maximum session lifetime, 12 h.
    expect(session).toMatch(/^vigie_session=[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; SameSite=Strict; Max-Age=43200$/);
  });

  it('set Secure on the cookies when on-call reaches the detector over TLS', async () => {
    const { http } = server({ secureCookies: true });
    const page = await http.inject('/signin');
    expect(cookieValue(page.headers['set-cookie'], 'vigie_signin')).toMatch(/; Secure$/);
    const { session } = await signIn(http);
    expect(session).toMatch(/; HttpOnly; SameSite=Strict; Max-Age=\d+; Secure$/);
  });

  it('refuse a wrong token with 401 and no session', async () => {
    const { http } = server();
    const { res, session } = await signIn(http, 'wrong-token-0123456789');
    expect(res.statusCode).toBe(401);
    expect(res.body).toContain('VIGIE_WEB_SIGNIN_FAILED');
    expect(session).toBeUndefined();
  });

  it('refuse forms without the CSRF token or with a wrong one: 403, nothing done', async () => {
    const { http, alerts } = server();
    // Sign-in form posted without its cookie, without its token, with another form's token.
    const page = await http.inject('/signin');
    const signinCookie = cookieValue(page.headers['set-cookie'], 'vigie_signin')?.split(';')[0] ?? '';
    const cookies = Object.fromEntries([signinCookie.split('=') as [string, string]]);
    for (const attempt of [
      { ...form({ csrf: csrfOf(page.body), token: TOKEN }) },
      { ...form({ token: TOKEN }), cookies },
      { ...form({ csrf: 'x'.repeat(43), token: TOKEN }), cookies },
    ]) {
      const res = await http.inject({ method: 'POST', url: '/signin', ...attempt });
      expect(res.statusCode).toBe(403);
      expect(res.body).toContain('VIGIE_WEB_CSRF');
      expect(cookieValue(res.headers['set-cookie'], 'vigie_session')).toBeUndefined();
    }

    const { cookie } = await signIn(http);
    const other = await signIn(http);
    const otherCsrf = csrfOf((await http.inject({ url: '/alerts', headers: { cookie: other.cookie } })).body);
    for (const fields of <Record<string, string>[]>[
      { comment: 'forged' },
      { comment: 'forged', csrf: 'nope' },
      { comment: 'forged', csrf: otherCsrf },
    ]) {
      const ack = await http.inject({
        method: 'POST',
        url: `/alerts/${REF}/ack`,
        ...form(fields),
        headers: { ...form(fields).headers, cookie },
      });
      expect(ack.statusCode).toBe(403);
      const out = await http.inject({
        method: 'POST',
        url: '/signout',
        ...form(fields),
        headers: { ...form(fields).headers, cookie },
      });
      expect(out.statusCode).toBe(403);
    }
    expect(alerts.get(ALERT.id)?.ack).toBeUndefined();
    // The session survived the forged sign-out.
    expect((await http.inject({ url: '/alerts', headers: { cookie } })).statusCode).toBe(200);
  });

  it('serve every page with the strict CSP, nosniff, no-referrer and no-store', async () => {
    const { http } = server();
    const { cookie } = await signIn(http);
    expect(CONTENT_SECURITY_POLICY).toBe(
      "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    );
    for (const url of ['/signin', '/alerts', `/alerts/${REF}`, '/assets/evidence.css', `/alerts/${'0'.repeat(32)}`]) {
      const res = await http.inject({ url, headers: { cookie } });
      expect(res.headers['content-security-policy'], url).toBe(CONTENT_SECURITY_POLICY);
      expect(res.headers['x-content-type-options'], url).toBe('nosniff');
      expect(res.headers['referrer-policy'], url).toBe('no-referrer');
      expect(res.headers['cache-control'], url).toBe('no-store');
      expect(res.headers['x-frame-options'], url).toBe('DENY');
    }
    const unauth = await http.inject('/alerts');
    expect(unauth.headers['content-security-policy']).toBe(CONTENT_SECURITY_POLICY);
    const css = await http.inject('/assets/evidence.css');
    expect(css.headers['content-type']).toBe('text/css; charset=utf-8');
    // The icon link keeps browsers from asking for /favicon.ico (a protected path: 401 in the console).
    const icon = await http.inject('/assets/icon.svg');
    expect([icon.statusCode, icon.headers['content-type']]).toEqual([200, 'image/svg+xml']);
    expect((await http.inject('/signin')).body).toContain('<link rel="icon" href="/assets/icon.svg"');
  });

  it('show the evidence with every attacker-controlled value escaped, and no script anywhere', async () => {
    const { http } = server();
    const { cookie } = await signIn(http);
    const page = await http.inject({ url: `/alerts/${REF}`, headers: { cookie } });
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(page.body).not.toMatch(/<script|<img|onerror=/i);
    const escaped = '&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src&#61;x onerror&#61;alert(2)&gt;&quot;&#39;';
    // Application (twice: the alert and the timeline), summary, login, table, statement, timeline statement, the
    // role of the response.
    expect(page.body.split(escaped).length - 1).toBeGreaterThanOrEqual(8);
    for (const expected of [
      'app_owner',
      'A. Martin',
      '127.0.0.3',
      'non-bastion',
      'public.citizens',
      'SELECT * FROM public.citizens WHERE nir &#61; $1',
      '4.8 MiB (5 000 000 bytes)',
      '1 200',
      'session.start',
      'https://example.invalid/runbook#dump',
      // The active response: who asked, what, the result.
      'oncall-carol (manual)',
      'cannot log in until 2026-11-26T05:20:00.000Z (NOLOGIN; Vigie restores LOGIN then)',
    ]) {
      expect(page.body).toContain(expected);
    }
    // Revisions in order, and the privileged flag.
    expect(page.body.indexOf('first')).toBeLessThan(page.body.indexOf('second'));
    expect(page.body).toMatch(/Privileged<\/dt>\s*<dd>yes/);
    const list = await http.inject({ url: '/alerts', headers: { cookie } });
    expect(list.body).not.toMatch(/<script|<img/i);
    expect(list.body).toContain(`href="/alerts/${REF}"`);
    // The alert's id names a role: it is in the page body, never in a URL.
    expect(list.body).not.toContain(`href="/alerts/${encodeURIComponent(ALERT.id)}`);
  });

  it('acknowledge from the page under the signed-in name; the store (what the API reads) has it', async () => {
    const { http } = server({ users: true });
    const { cookie, res } = await signIn(http, ALICE_TOKEN, 'someone else');
    expect(res.statusCode).toBe(303);
    const page = await http.inject({ url: `/alerts/${REF}`, headers: { cookie } });
    const fields = { csrf: csrfOf(page.body), comment: `called the DBA <b>${HOSTILE}</b>` };
    const ack = await http.inject({
      method: 'POST',
      url: `/alerts/${REF}/ack`,
      ...form(fields),
      headers: { ...form(fields).headers, cookie },
    });
    expect(ack.statusCode).toBe(303);
    expect(ack.headers.location).toBe(`/alerts/${REF}?acked=1`);
    const api = await http.inject({
      url: `/api/alerts/${encodeURIComponent(ALERT.id)}`,
      headers: { authorization: `Bearer ${ALICE_TOKEN}` },
    });
    // A personal token names its holder, whatever name was typed.
    expect(api.json().ack).toMatchObject({ by: 'Alice Martin', comment: fields.comment });
    const after = await http.inject({ url: `/alerts/${REF}?acked=1`, headers: { cookie } });
    expect(after.body).toContain('Acknowledgement recorded.');
    expect(after.body).toContain('Acknowledged by <strong>Alice Martin</strong>');
    expect(after.body).not.toContain('<b>');
  });

  it('filter by role through a posted form: the role reaches the store, never the URL', async () => {
    const { http, filters } = server();
    const { cookie } = await signIn(http);
    const list = await http.inject({ url: '/alerts', headers: { cookie } });
    const fields = { csrf: csrfOf(list.body), role: 'dba_alice', severity: 'critical', since: '2026-11-26T00:00' };
    const post = await http.inject({
      method: 'POST',
      url: '/alerts/filter',
      ...form(fields),
      headers: { ...form(fields).headers, cookie },
    });
    expect(post.statusCode).toBe(303);
    const location = String(post.headers.location);
    expect(location).toMatch(/^\/alerts\?filter=[A-Za-z0-9_-]{16}$/);
    expect(location).not.toContain('alice');
    const filtered = await http.inject({ url: location, headers: { cookie } });
    expect(filtered.statusCode).toBe(200);
    expect(filters.at(-1)).toEqual({
      role: 'dba_alice',
      severity: 'critical',
      since: new Date('2026-11-26T00:00:00.000Z'),
      limit: 200,
    });
    // Another session cannot use this filter id.
    const other = await signIn(http);
    await http.inject({ url: location, headers: { cookie: other.cookie } });
    expect(filters.at(-1)).toEqual({ limit: 200 });
    const bad = { csrf: csrfOf(list.body), severity: 'urgent' };
    const refused = await http.inject({
      method: 'POST',
      url: '/alerts/filter',
      ...form(bad),
      headers: { ...form(bad).headers, cookie },
    });
    expect(refused.statusCode).toBe(400);
    expect(refused.body).toContain('severity: critical, warning or info');
  });

  it('sign out: the session ends and the cookie is cleared', async () => {
    const { http } = server();
    const { cookie } = await signIn(http);
    const list = await http.inject({ url: '/alerts', headers: { cookie } });
    const fields = { csrf: csrfOf(list.body) };
    const out = await http.inject({
      method: 'POST',
      url: '/signout',
      ...form(fields),
      headers: { ...form(fields).headers, cookie },
    });
    expect(out.statusCode).toBe(303);
    expect(cookieValue(out.headers['set-cookie'], 'vigie_session')).toContain('Max-Age=0');
    expect((await http.inject({ url: '/alerts', headers: { cookie } })).statusCode).toBe(303);
  });

  it('with api.allowAnonymous (no token at all) a name signs in; CSRF still applies', async () => {
    const { http } = server({ anonymous: true });
    const page = await http.inject('/signin');
    expect(page.body).not.toContain('name="token"');
    const { res } = await signIn(http, '', 'laptop user');
    expect(res.statusCode).toBe(303);
  });
});
