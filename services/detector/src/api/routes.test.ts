import { describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import { sampleAlert } from '../../test-support/fixtures.js';
import type { AlertFilter, StoredAlert, TimelineEntry } from '../sinks/store/alert-store.js';
import type { ResponseRequest } from '../respond/responder.js';
import { bearerChecker } from './auth.js';
import type { ApiOptions } from './routes.js';
import { buildApiServer } from './server.js';

const TOKEN = 'test-token-0123456789abcdef';

function app({ anonymous = false, respond }: { anonymous?: boolean; respond?: ApiOptions['respond'] } = {}) {
  const token = anonymous ? undefined : TOKEN;
  const filters: AlertFilter[] = [];
  const stored: StoredAlert = { alert: sampleAlert(), updatedAt: '2026-11-26T01:14:06.000Z' };
  const timeline: TimelineEntry[] = [
    {
      cluster: 'local',
      sessionId: '6b07e26d.1a57',
      eventId: 'local:6b07e26d.1a57:1',
      ts: '2026-11-26T01:14:00.000Z',
      kind: 'statement',
      body: { text: 'BEGIN' },
    },
  ];
  const http = buildApiServer({
    registry: new Registry(),
    token,
    baseUrl: () => 'http://127.0.0.1:18080',
    respond,
    store: {
      listAlerts: async (f) => {
        filters.push(f);
        return [stored];
      },
      getAlert: async (id) => (id === stored.alert.id ? stored : undefined),
      ack: async (id, by, comment) =>
        id === stored.alert.id
          ? { ...stored, ack: { at: '2026-11-26T02:00:00.000Z', by, ...(comment ? { comment } : {}) } }
          : undefined,
      sessionTimeline: async (cluster, sessionId, limit) =>
        cluster === 'local' && sessionId === '6b07e26d.1a57' ? timeline.slice(0, limit) : [],
      getAlertByRef: async () => undefined,
      alertRevisions: async () => [],
    },
  });
  return { http, filters };
}

const auth = { authorization: `Bearer ${TOKEN}` };

describe('evidence API', () => {
  it('refuses /api/* without the right bearer token, but serves the OpenAPI document and /metrics', async () => {
    const { http } = app();
    expect((await http.inject({ url: '/api/alerts' })).statusCode).toBe(401);
    const wrong = await http.inject({ url: '/api/alerts', headers: { authorization: 'Bearer nope' } });
    expect(wrong.statusCode).toBe(401);
    expect(wrong.json()).toMatchObject({ error: 'VIGIE_API_UNAUTHORIZED' });
    expect((await http.inject({ url: '/api/alerts', headers: auth })).statusCode).toBe(200);
    const doc = await http.inject({ url: '/api/openapi.json' });
    expect(doc.statusCode).toBe(200);
    const paths = Object.keys((doc.json() as { paths: Record<string, unknown> }).paths);
    expect(paths).toContain('/api/alerts/{id}/ack');
    expect((await http.inject({ url: '/metrics' })).statusCode).toBe(200);
  });

  it('validates filters (400 with details) and passes them to the store', async () => {
    const { http, filters } = app();
    const bad = await http.inject({ url: '/api/alerts?severity=urgent&limit=0&color=red', headers: auth });
    expect(bad.statusCode).toBe(400);
    const body = bad.json() as { error: string; details: { path: string }[] };
    expect(body.error).toBe('VIGIE_API_BAD_REQUEST');
    expect(body.details.map((d) => d.path).sort()).toEqual(['', 'limit', 'severity']);
    const ok = await http.inject({
      url: '/api/alerts?rule=dump&severity=critical&status=firing&since=2026-11-26T00:00:00Z&role=dba_alice',
      headers: auth,
    });
    expect(ok.statusCode).toBe(200);
    expect(filters[0]).toEqual({
      rule: 'dump',
      severity: 'critical',
      status: 'firing',
      since: new Date('2026-11-26T00:00:00Z'),
      role: 'dba_alice',
      limit: 100,
    });
    const list = ok.json() as { alerts: { links: { self: string; timeline: string } }[] };
    expect(list.alerts[0]?.links.timeline).toBe('http://127.0.0.1:18080/api/sessions/local/6b07e26d.1a57');
  });

  it('returns one alert with its evidence, 404 for an unknown one', async () => {
    const { http } = app();
    const res = await http.inject({
      url: `/api/alerts/${encodeURIComponent('dump:local:6b07e26d.1a57')}`,
      headers: auth,
    });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ alert: { evidence: { eventIds: ['local:6b07e26d.1a57:12'] } } });
    expect((await http.inject({ url: '/api/alerts/nope', headers: auth })).statusCode).toBe(404);
  });

  it('acknowledges an alert with a validated body', async () => {
    const { http } = app();
    const url = `/api/alerts/${encodeURIComponent('dump:local:6b07e26d.1a57')}/ack`;
    expect((await http.inject({ method: 'POST', url, headers: auth, payload: { by: '' } })).statusCode).toBe(400);
    const res = await http.inject({
      method: 'POST',
      url,
      headers: auth,
      payload: { by: 'oncall', comment: 'ticket 1' },
    });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ ack: { by: 'oncall', comment: 'ticket 1' } });
  });

  it('serves a session timeline, validating the session id', async () => {
    const { http } = app();
    const res = await http.inject({ url: '/api/sessions/local/6b07e26d.1a57', headers: auth });
    expect(res.json()).toMatchObject({ events: [{ kind: 'statement', body: { text: 'BEGIN' } }], truncated: false });
    expect((await http.inject({ url: '/api/sessions/local/not-a-session', headers: auth })).statusCode).toBe(400);
    expect((await http.inject({ url: '/api/sessions/local/1.2', headers: auth })).statusCode).toBe(404);
  });

  it('lets anonymous requests through only when no token is configured', async () => {
    const { http } = app({ anonymous: true });
    expect((await http.inject({ url: '/api/alerts' })).statusCode).toBe(200);
  });
});

describe('POST /api/alerts/:id/response', () => {
  const url = `/api/alerts/${encodeURIComponent(sampleAlert().id)}/response`;
  const post = (http: ReturnType<typeof app>['http'], payload: unknown, at = url) =>
    http.inject({ method: 'POST', url: at, headers: auth, payload: payload as Record<string, unknown> });

  it('is a dry run unless dryRun: false, and hands the alert and the request to the responder', async () => {
    const asked: ResponseRequest[] = [];
    const { http } = app({
      respond: async (alert, request) => {
        asked.push(request);
        const action = request.dryRun ? 'planned' : 'done';
        return {
          status: request.dryRun ? 'dry-run' : 'done',
          actions: [
            {
              action: 'lock',
              mode: 'manual',
              by: request.by,
              at: alert.lastSeen,
              role: 'dba_alice',
              result: action,
              detail: '',
            },
          ],
        };
      },
    });
    const dry = await post(http, { lock: true, lockFor: '20s', by: 'oncall' });
    expect(dry.statusCode).toBe(200);
    expect(dry.json()).toMatchObject({
      status: 'dry-run',
      actions: [{ result: 'planned' }],
      alert: { alert: { id: sampleAlert().id } },
    });
    const real = await post(http, { terminate: true, dryRun: false, by: 'oncall' });
    expect(real.json()).toMatchObject({ status: 'done' });
    expect(asked).toEqual([
      { terminate: false, lock: true, lockForMs: 20_000, dryRun: true, by: 'oncall', mode: 'manual' },
      { terminate: true, lock: false, lockForMs: undefined, dryRun: false, by: 'oncall', mode: 'manual' },
    ]);
  });

  it('answers a refusal with 403 and its reason, an unknown alert with 404, bad input with 400', async () => {
    const { http } = app({
      respond: async () => ({
        status: 'refused',
        actions: [
          {
            action: 'lock',
            mode: 'manual',
            by: 'x',
            at: '2026-11-26T01:14:06.000Z',
            role: 'dba_alice',
            result: 'refused',
            detail: 'dba_alice is listed in response.never: never acted on',
          },
        ],
      }),
    });
    const refused = await post(http, { lock: true, dryRun: false, by: 'oncall' });
    expect(refused.statusCode).toBe(403);
    expect(refused.json()).toEqual({
      error: 'VIGIE_RESPOND_REFUSED',
      message: 'response refused: dba_alice is listed in response.never: never acted on',
    });
    expect((await post(http, { lock: true, by: 'oncall' }, '/api/alerts/nope/response')).statusCode).toBe(404);
    for (const bad of [
      { by: 'oncall' },
      { lock: true },
      { lock: true, by: 'x', lockFor: '4 hours' },
      { lock: true, by: 'x', kill: true },
    ]) {
      expect((await post(http, bad)).statusCode, JSON.stringify(bad)).toBe(400);
    }
  });

  it('answers 503 when no responder is configured', async () => {
    const res = await post(app().http, { lock: true, by: 'oncall' });
    expect(res.statusCode).toBe(503);
    expect(res.json()).toMatchObject({ error: 'VIGIE_RESPOND_DISABLED' });
  });
});

describe('bearerChecker', () => {
  it('accepts exactly the token', () => {
    const check = bearerChecker(TOKEN);
    expect(check(`Bearer ${TOKEN}`)).toBe(true);
    expect(check(`bearer ${TOKEN}`)).toBe(true);
    expect(check(`Bearer ${TOKEN}x`)).toBe(false);
    expect(check(TOKEN)).toBe(false);
    expect(check(undefined)).toBe(false);
    expect(check('Bearer ')).toBe(false);
  });
});
