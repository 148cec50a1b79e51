import { describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import { createMetricsRegistry, routeTable } from '@vigie/runtime';
import { createDetectorMetrics } from '../metrics.js';
import { sampleAlert } from '../../test-support/fixtures.js';
import type { StoredAlert } from '../sinks/store/alert-store.js';
import { concretePath, pathSpellings } from '../../test-support/path-spellings.js';
import { buildApiServer } from './server.js';

// Who may read or acknowledge evidence is decided from the route the router matched, not from the raw URL. Each
// protected route of the detector's real server is asked for through every spelling an attacker could try, without
// the token: none may reach the store, none may answer with data.

const TOKEN = 'access-test-token-0123456789';
const ALERT = sampleAlert();
const ALERT_ID = ALERT.id;
// Words that only appear in evidence: an answer containing one leaked data.
const DATA_MARKERS = [ALERT_ID, 'dba_alice', 'citizens', 'COPY', 'BEGIN', '6b07e26d.1a57:1'];

function detectorServer() {
  const calls: string[] = [];
  const stored: StoredAlert = { alert: ALERT, updatedAt: '2026-11-26T01:14:06.000Z' };
  const http = buildApiServer({
    registry: new Registry(),
    token: TOKEN,
    baseUrl: () => 'http://127.0.0.1:18080',
    readiness: () => ({ ready: false, reasons: ['store: connect ECONNREFUSED 10.9.8.7:5432'] }),
    store: {
      listAlerts: async () => {
        calls.push('listAlerts');
        return [stored];
      },
      getAlert: async () => {
        calls.push('getAlert');
        return stored;
      },
      ack: async () => {
        calls.push('ack');
        return stored;
      },
      sessionTimeline: async (cluster, sessionId) => {
        calls.push('sessionTimeline');
        return [{ cluster, sessionId, eventId: '6b07e26d.1a57:1', ts: ALERT.firstSeen, kind: 'statement', body: {} }];
      },
      getAlertByRef: async () => {
        calls.push('getAlertByRef');
        return stored;
      },
      alertRevisions: async () => {
        calls.push('alertRevisions');
        return [];
      },
    },
  });
  return { http, calls };
}

describe('detector HTTP server access', () => {
  const { http } = detectorServer();
  const protectedRoutes = () => routeTable(http).filter((r) => r.access === 'protected');

  it('declares exactly the documented public routes; every other route is protected', async () => {
    await http.ready();
    const publicRoutes = routeTable(http)
      .filter((r) => r.access === 'public')
      .map((r) => `${r.method} ${r.url}`)
      .sort();
    expect(publicRoutes).toEqual(
      ['/api/openapi.json', '/healthz', '/metrics', '/readyz', '/signin', '/assets/evidence.css', '/assets/icon.svg']
        .flatMap((u) => [`GET ${u}`, `HEAD ${u}`])
        // Signing in: the form posts the token (no data behind it; CSRF-checked).
        .concat('POST /signin')
        .sort(),
    );
    expect(protectedRoutes().map((r) => `${r.method} ${r.url}`)).toEqual(
      expect.arrayContaining([
        'GET /api/alerts',
        'GET /api/alerts/:id',
        'POST /api/alerts/:id/ack',
        'GET /api/sessions/:cluster/:sessionId',
        'POST /api/alerts/:id/response',
        'GET /alerts',
        'GET /alerts/:ref',
        'POST /alerts/:ref/ack',
        'POST /alerts/filter',
        'POST /signout',
      ]),
    );
  });

  it('reaches the evidence with the token (so the spellings below are refused by the check, not by chance)', async () => {
    const { http: server, calls } = detectorServer();
    const headers = { authorization: `Bearer ${TOKEN}` };
    expect((await server.inject({ url: '/%61pi/alerts', headers })).statusCode).toBe(200);
    expect((await server.inject({ url: `/%61pi/alerts/${encodeURIComponent(ALERT_ID)}`, headers })).body).toContain(
      'dba_alice',
    );
    expect(calls).toEqual(['listAlerts', 'getAlert']);
  });

  it('refuses every spelling of every protected route without the token: 401, no data, the store untouched', async () => {
    const { http: server, calls } = detectorServer();
    await server.ready();
    const routes = routeTable(server).filter((r) => r.access === 'protected');
    // 5 API routes and 6 page routes; the GET ones (3 + 3) have HEAD twins.
    expect(routes).toHaveLength(17);
    const failures: string[] = [];
    let tried = 0;
    for (const route of routes) {
      for (const [how, url] of pathSpellings(concretePath(route.url, ALERT_ID))) {
        for (const authorization of [undefined, 'Bearer wrong-token-0123456789', `Basic ${TOKEN}`, TOKEN]) {
          tried += 1;
          const res = await server.inject({
            method: route.method as 'GET',
            url,
            headers: authorization ? { authorization, 'content-type': 'application/json' } : {},
            ...(route.method === 'POST' ? { payload: { by: 'attacker' } } : {}),
          });
          const leaked = DATA_MARKERS.filter((m) => res.body.includes(m));
          // A spelling that lands on a public route (the query-string one) answers that route: no data either. An
          // evidence page (session cookie, which a bearer token never replaces) sends the browser to sign in.
          const toSignIn = res.statusCode === 303 && String(res.headers.location).startsWith('/signin');
          const ok =
            res.statusCode === 401 || toSignIn || ([400, 404, 503].includes(res.statusCode) && leaked.length === 0);
          if (!ok || leaked.length > 0) {
            failures.push(
              `${route.method} ${url} (${how}, ${authorization ?? 'no auth'}): ${res.statusCode} ${leaked}`,
            );
          }
        }
      }
    }
    expect(failures).toEqual([]);
    expect(calls).toEqual([]);
    expect(tried).toBeGreaterThan(500);
  });

  it('protects a route added to the detector server without any declaration', async () => {
    const { http: server } = detectorServer();
    server.get('/api/evidence-export', async () => ({ alerts: [ALERT] }));
    server.get('/evidence/:id', async () => ({ alert: ALERT }));
    for (const url of ['/api/evidence-export', '/%61pi/evidence-export', '/evidence/1', '/%65vidence/1']) {
      const res = await server.inject(url);
      expect(res.statusCode, url).toBe(401);
      expect(res.body).not.toContain('dba_alice');
    }
    const withToken = await server.inject({ url: '/evidence/1', headers: { authorization: `Bearer ${TOKEN}` } });
    expect(withToken.body).toContain('dba_alice');
  });

  it('keeps readiness internals (hosts, driver messages) for callers with the token', async () => {
    const anonymous = await http.inject('/readyz');
    expect(anonymous.statusCode).toBe(503);
    expect(anonymous.json()).toEqual({ status: 'not ready', reasons: ['store: not ready'] });
    const full = await http.inject({ url: '/readyz', headers: { authorization: `Bearer ${TOKEN}` } });
    expect(full.json()).toEqual({ status: 'not ready', reasons: ['store: connect ECONNREFUSED 10.9.8.7:5432'] });
  });
});

describe('public /metrics', () => {
  it('labels series only with names whose values come from fixed, non-personal sets', async () => {
    // /metrics stays public so Prometheus can scrape without the API token: that is only safe while no label can
    // carry a user, an address, SQL or a session id. A new label must be added here, after that check.
    const registry = createMetricsRegistry('detector');
    createDetectorMetrics(registry, {
      sessionsTracked: () => 0,
      activeAlerts: () => [],
      alertmanagerQueue: () => 0,
    });
    const labels = new Set<string>();
    for (const metric of (await registry.getMetricsAsJSON()) as { values: { labels: Record<string, unknown> }[] }[]) {
      for (const v of metric.values) for (const name of Object.keys(v.labels)) labels.add(name);
    }
    const vigie = ['service', 'source', 'rule', 'severity', 'client_class', 'collector', 'cluster', 'reason'];
    const nodeDefaults = ['version', 'major', 'minor', 'patch', 'space', 'kind', 'type', 'le'];
    expect([...labels].filter((l) => ![...vigie, ...nodeDefaults].includes(l))).toEqual([]);
    expect(labels.has('source')).toBe(true);
  });
});
