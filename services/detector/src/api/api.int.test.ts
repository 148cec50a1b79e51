import { connect } from 'node:net';
import { Writable } from 'node:stream';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import pg from 'pg';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, routeTable } from '@vigie/runtime';
import { STACK, uniqueName } from '@vigie/testkit';
import { sampleAlert } from '../../test-support/fixtures.js';
import { createAlertStore, type AlertStore } from '../sinks/store/alert-store.js';
import { concretePath, pathSpellings } from '../../test-support/path-spellings.js';
import { buildApiServer } from './server.js';

// The detector's HTTP server on a real socket with the real store: raw request lines (no client library to
// normalise them) for every spelling of every protected route, and a store the server cannot log in to.
const OWNER_URL = `postgresql://vigie:vigie@${STACK.pg.host}:${STACK.pg.port}/vigie`;
const RUNTIME_URL = `postgresql://vigie_detector:vigie_detector@${STACK.pg.host}:${STACK.pg.port}/vigie`;
const TOKEN = 'api-int-test-token-0123456789';
const ALERT = sampleAlert();

/** Sends one raw HTTP/1.1 request and returns the status and body as the server wrote them. */
function rawRequest(port: number, method: string, target: string, headers: string[] = []): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port }, () => {
      const body = method === 'POST' ? '{"by":"attacker"}' : '';
      // write, not end: the server answers a request whose connection is still open, then closes it.
      socket.write(
        [
          `${method} ${target} HTTP/1.1`,
          'Host: 127.0.0.1',
          'Connection: close',
          ...headers,
          ...(body ? ['Content-Type: application/json', `Content-Length: ${body.length}`] : []),
          '',
          body,
        ].join('\r\n'),
      );
    });
    let out = '';
    socket.on('data', (d: Buffer) => (out += d.toString('latin1')));
    socket.on('end', () => resolve(out));
    socket.on('error', reject);
  });
}

const statusOf = (response: string) => Number(/^HTTP\/1\.1 (\d{3})/.exec(response)?.[1]);

describe('detector API on a real socket, with the real store', () => {
  const schema = uniqueName('api');
  let store: AlertStore;
  let http: FastifyInstance;
  let port = 0;

  beforeAll(async () => {
    store = createAlertStore({ connectionString: RUNTIME_URL, migrationConnectionString: OWNER_URL, schema });
    await store.migrate();
    await store.upsertAlerts([ALERT]);
    await store.appendTimeline([
      {
        cluster: 'local',
        sessionId: '6b07e26d.1a57',
        eventId: 'local:6b07e26d.1a57:1',
        ts: ALERT.firstSeen,
        kind: 'statement',
        body: { text: 'COPY public.citizens TO stdout' },
      },
    ]);
    http = buildApiServer({ registry: new Registry(), token: TOKEN, store, baseUrl: () => 'http://127.0.0.1' });
    await http.listen({ host: '127.0.0.1', port: 0 });
    port = (http.server.address() as AddressInfo).port;
  });

  afterAll(async () => {
    await http?.close();
    await store?.close();
    const c = new pg.Client({ connectionString: OWNER_URL });
    await c.connect();
    await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await c.end();
  });

  it('serves the evidence with the token, through a percent-encoded path too', async () => {
    const auth = [`Authorization: Bearer ${TOKEN}`];
    const plain = await rawRequest(port, 'GET', '/api/alerts', auth);
    expect(statusOf(plain)).toBe(200);
    expect(plain).toContain('dba_alice');
    expect(statusOf(await rawRequest(port, 'GET', '/%61pi/alerts', auth))).toBe(200);
  });

  it('refuses every spelling of every protected route without the token, and the store is not changed', async () => {
    const failures: string[] = [];
    for (const route of routeTable(http).filter((r) => r.access === 'protected')) {
      for (const [how, target] of pathSpellings(concretePath(route.url, ALERT.id))) {
        // A fragment never reaches a server on the wire; everything else is sent byte for byte.
        const response = await rawRequest(port, route.method, target.replace(/#.*$/, ''));
        const status = statusOf(response);
        const leaked = ['dba_alice', 'citizens', 'COPY', ALERT.id].filter((m) => response.includes(m));
        // The query-string spelling lands on /readyz, which is public and answers; without data. An evidence page
        // sends the browser to its sign-in page.
        const toSignIn = status === 303 && /\r\nlocation: \/signin/i.test(response);
        const refused =
          status === 401 ||
          toSignIn ||
          [400, 404].includes(status) ||
          (how.startsWith('public route') && status === 200);
        if (!refused || leaked.length > 0) {
          failures.push(`${route.method} ${target} (${how}): ${status} ${leaked}`);
        }
      }
    }
    expect(failures).toEqual([]);
    // No acknowledgement went through.
    expect((await store.getAlert(ALERT.id))?.ack).toBeUndefined();
  });

  it("answers a store failure with a code and a request id; the driver's message stays in the log", async () => {
    const lines: string[] = [];
    const logger = createLogger('api-int', {
      destination: new Writable({
        write(chunk: Buffer, _e, done) {
          lines.push(chunk.toString('utf8'));
          done();
        },
      }),
    });
    // The real server refuses this password: 28P01 "password authentication failed for user "vigie_detector"".
    const broken = createAlertStore({
      connectionString: `postgresql://vigie_detector:wrong-password@${STACK.pg.host}:${STACK.pg.port}/vigie`,
      schema,
    });
    const server = buildApiServer({
      registry: new Registry(),
      token: TOKEN,
      store: broken,
      logger,
      baseUrl: () => 'http://127.0.0.1',
    });
    try {
      const res = await server.inject({ url: '/api/alerts', headers: { authorization: `Bearer ${TOKEN}` } });
      expect(res.statusCode).toBe(500);
      const body = res.json() as { error: string; message: string; requestId: string };
      expect(body.error).toBe('VIGIE_API_INTERNAL');
      expect(res.body).not.toMatch(/password|authentication|vigie_detector|28P01|at \S+:\d+/);
      const log = lines.join('');
      expect(log).toContain(body.requestId);
      expect(log).toContain('28P01');
      expect(log).toContain('password authentication failed for user');
      expect(log).not.toContain('wrong-password');
    } finally {
      await server.close();
      await broken.close();
    }
  });
});
