import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { defineErrors, VigieError } from '@vigie/errors';
import { buildHttpServer, loggableErrorFacts, PUBLIC_ROUTE, publicReadinessReasons } from './http-server.js';
import { createLogger } from './logger.js';
import { createMetricsRegistry } from './metrics.js';

// A service's code, as the server meets it (the real one is the detector's).
const TEST_ERRORS = defineErrors({ STORE_WRITE: ['VIGIE_STORE_WRITE', 'an alert store write failed'] });

const KEY = 'let-me-in';
const authenticate = (req: { headers: Record<string, unknown> }) => req.headers['x-key'] === KEY;

function logSink() {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(chunk.toString('utf8'));
      done();
    },
  });
  return { logger: createLogger('http-test', { destination }), text: () => lines.join('') };
}

/** A pg DatabaseError as node-postgres builds it: SQLSTATE in `code`, a `severity`. */
function pgError(message: string, sqlstate: string): Error {
  return Object.assign(new Error(message), { code: sqlstate, severity: 'FATAL' });
}

describe('http server', () => {
  it('serves metrics, health and readiness; full readiness reasons only to authenticated callers', async () => {
    const registry = createMetricsRegistry('test-service');
    let ready = false;
    const app = buildHttpServer({
      registry,
      authenticate,
      readiness: () => ({
        ready,
        reasons: ready ? [] : ['kafka: connect ECONNREFUSED kafka-3.prod.example:9092', 'starting'],
      }),
    });
    const metrics = await app.inject('/metrics');
    expect(metrics.statusCode).toBe(200);
    expect(metrics.body).toMatch(/process_cpu_user_seconds_total\{service="test-service"\}/);
    expect((await app.inject('/healthz')).json()).toEqual({ status: 'ok' });
    const anonymous = await app.inject('/readyz');
    expect(anonymous.statusCode).toBe(503);
    expect(anonymous.json()).toEqual({ status: 'not ready', reasons: ['kafka: not ready', 'not ready'] });
    const full = await app.inject({ url: '/readyz', headers: { 'x-key': KEY } });
    expect(full.statusCode).toBe(503);
    expect(full.json()).toEqual({
      status: 'not ready',
      reasons: ['kafka: connect ECONNREFUSED kafka-3.prod.example:9092', 'starting'],
    });
    ready = true;
    expect((await app.inject('/readyz')).statusCode).toBe(200);
    await app.close();
  });

  it("shows a service's own readiness summary to anonymous callers", async () => {
    const app = buildHttpServer({
      registry: createMetricsRegistry('t'),
      readiness: () => ({
        ready: false,
        reasons: ['store: password authentication failed for user "vigie_detector"'],
        summary: ['store: unreachable'],
      }),
    });
    expect((await app.inject('/readyz')).json()).toEqual({ status: 'not ready', reasons: ['store: unreachable'] });
    expect(
      publicReadinessReasons({ ready: false, reasons: ['10.0.0.7: refused', 'connect ECONNREFUSED 10.0.0.7:5432'] }),
    ).toEqual(['not ready', 'not ready']);
  });

  it('protects every route not declared public, including routes added later and in plugins', async () => {
    const app = buildHttpServer({ registry: createMetricsRegistry('t'), authenticate });
    app.get('/added-later', async () => ({ secret: 'data' }));
    app.get('/declared-public', PUBLIC_ROUTE, async () => ({ open: true }));
    await app.register(
      async (child) => {
        child.get('/inside', async () => ({ secret: 'data' }));
        // A typo in the declaration protects the route: only the exact word opens it.
        child.get('/typo', { config: { access: 'pubic' as never } }, async () => ({ secret: 'data' }));
      },
      { prefix: '/plugin' },
    );
    for (const url of ['/added-later', '/plugin/inside', '/plugin/typo']) {
      const res = await app.inject(url);
      expect(res.statusCode, url).toBe(401);
      expect(res.headers['www-authenticate']).toBe('Bearer realm="vigie"');
      expect(res.json()).toMatchObject({ error: 'VIGIE_API_UNAUTHORIZED' });
      expect(res.body).not.toContain('data');
      expect((await app.inject({ url, headers: { 'x-key': KEY } })).json()).toEqual({ secret: 'data' });
    }
    expect((await app.inject('/declared-public')).json()).toEqual({ open: true });
    await app.close();
  });

  it('refuses unknown paths without saying they are unknown; 404 only to authenticated callers', async () => {
    const app = buildHttpServer({ registry: createMetricsRegistry('t'), authenticate });
    const anonymous = await app.inject('/no/such/thing');
    expect(anonymous.statusCode).toBe(401);
    const known = await app.inject({ url: '/no/such/thing', headers: { 'x-key': KEY } });
    expect(known.statusCode).toBe(404);
    expect(known.json()).toMatchObject({ error: 'VIGIE_API_NOT_FOUND', message: 'not found' });
    expect(known.body).not.toContain('/no/such/thing');
    // A path the router cannot decode: fastify's default answer quotes it back.
    const bad = await app.inject('/%zz-<script>');
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toMatchObject({ error: 'VIGIE_API_BAD_REQUEST', message: 'invalid request' });
    expect(bad.body).not.toContain('script');
    await app.close();
  });

  it('answers errors with a code and a generic message; the log gets codes, never driver or request text', async () => {
    const { logger, text } = logSink();
    const app = buildHttpServer({ registry: createMetricsRegistry('t'), authenticate, logger });
    app.get('/fails', async () => {
      throw new VigieError(TEST_ERRORS.STORE_WRITE, 'alert store: alert upsert failed', {
        cause: pgError('password authentication failed for user "vigie"', '28P01'),
      });
    });
    app.get('/data-error', async () => {
      throw pgError('invalid input syntax for type integer: "jean.dupont@exemple.fr"', '22P02');
    });
    app.post('/echo', async (req) => req.body);
    const headers = { 'x-key': KEY };

    const res = await app.inject({ url: '/fails', headers });
    expect(res.statusCode).toBe(500);
    const body = res.json() as { error: string; message: string; requestId: string };
    expect(body).toEqual({
      error: 'VIGIE_API_INTERNAL',
      message: 'internal error; see the service log',
      requestId: expect.any(String) as string,
    });
    expect(res.body).not.toMatch(/password|vigie"|at |\.ts:/);
    // The operator finds the cause in the log, by request id: codes, SQLSTATE, the connection-class message.
    expect(text()).toContain(body.requestId);
    expect(text()).toContain('VIGIE_STORE_WRITE');
    expect(text()).toContain('28P01');
    expect(text()).toContain('password authentication failed');

    const data = await app.inject({ url: '/data-error', headers });
    expect(data.statusCode).toBe(500);
    expect(data.body).not.toContain('dupont');
    expect(text()).toContain('22P02');
    expect(text()).not.toContain('dupont');

    // Malformed JSON: Node's parser quotes the input in its message; neither the answer nor the log may.
    const json = await app.inject({
      method: 'POST',
      url: '/echo',
      headers: { ...headers, 'content-type': 'application/json' },
      payload: '{"nir": "2840575123456 78"',
    });
    expect(json.statusCode).toBe(400);
    expect(json.json()).toMatchObject({ error: 'VIGIE_API_BAD_REQUEST', message: 'invalid request' });
    expect(json.body + text()).not.toContain('2840575123456');
    await app.close();
  });
});

describe('loggableErrorFacts', () => {
  it('keeps codes along the cause chain and only the messages that cannot quote data', () => {
    const system = Object.assign(new Error('connect ECONNREFUSED 10.1.2.3:5432'), { code: 'ECONNREFUSED' });
    const facts = loggableErrorFacts(
      new VigieError(TEST_ERRORS.STORE_WRITE, 'alert store: write failed', { cause: system }),
    );
    expect(facts).toEqual([
      { name: 'VigieError', code: 'VIGIE_STORE_WRITE', message: 'alert store: write failed' },
      { name: 'Error', code: 'ECONNREFUSED' },
    ]);
    expect(loggableErrorFacts(pgError('duplicate key value violates … (nir)=(284…)', '23505'))).toEqual([
      { name: 'Error', sqlstate: '23505' },
    ]);
  });
});
