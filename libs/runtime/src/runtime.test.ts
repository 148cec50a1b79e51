import { describe, expect, it } from 'vitest';
import { buildHttpServer } from './http-server.js';
import { rateLimited } from './logger.js';
import { describeError } from './main.js';
import { createMetricsRegistry } from './metrics.js';
import { VigieError } from './errors.js';
import { backoffMs } from './wait-for.js';

describe('http server', () => {
  it('serves metrics, health and readiness with reasons', async () => {
    const registry = createMetricsRegistry('test-service');
    let ready = false;
    const app = buildHttpServer({
      registry,
      readiness: () => ({ ready, reasons: ready ? [] : ['kafka: broker unreachable'] }),
    });
    const metrics = await app.inject('/metrics');
    expect(metrics.statusCode).toBe(200);
    expect(metrics.body).toMatch(/process_cpu_user_seconds_total\{service="test-service"\}/);
    expect((await app.inject('/healthz')).json()).toEqual({ status: 'ok' });
    const notReady = await app.inject('/readyz');
    expect(notReady.statusCode).toBe(503);
    expect(notReady.json()).toEqual({ status: 'not ready', reasons: ['kafka: broker unreachable'] });
    ready = true;
    expect((await app.inject('/readyz')).statusCode).toBe(200);
    await app.close();
  });
});

describe('rateLimited', () => {
  it('emits at most once per interval and reports what it suppressed', () => {
    let t = 0;
    const calls: [number, string][] = [];
    const log = rateLimited(
      1000,
      (suppressed, msg: string) => calls.push([suppressed, msg]),
      () => t,
    );
    log('a');
    log('b');
    log('c');
    t = 1500;
    log('d');
    expect(calls).toEqual([
      [0, 'a'],
      [2, 'd'],
    ]);
  });
});

describe('errors', () => {
  it('describes the cause chain with codes', () => {
    const error = new VigieError('VIGIE_KAFKA_SEND', 'send failed', {
      retriable: true,
      cause: new Error('connect ECONNREFUSED 127.0.0.1:19092'),
    });
    expect(error.retriable).toBe(true);
    expect(describeError(error)).toBe('VIGIE_KAFKA_SEND: send failed <- connect ECONNREFUSED 127.0.0.1:19092');
  });
  it('backs off exponentially within the cap', () => {
    for (let i = 0; i < 50; i += 1) {
      expect(backoffMs(0, { baseMs: 100 })).toBeLessThanOrEqual(100);
      expect(backoffMs(0, { baseMs: 100 })).toBeGreaterThanOrEqual(50);
      expect(backoffMs(30, { baseMs: 100, maxMs: 5000 })).toBeLessThanOrEqual(5000);
      expect(backoffMs(30, { baseMs: 100, maxMs: 5000 })).toBeGreaterThanOrEqual(2500);
    }
  });
});
