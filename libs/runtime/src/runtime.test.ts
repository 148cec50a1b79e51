import { describe, expect, it } from 'vitest';
import { rateLimited } from './logger.js';
import { describeError } from './main.js';
import { defineErrors, VigieError } from '@vigie/errors';
import { backoffMs } from './wait-for.js';

const TEST_ERRORS = defineErrors({ KAFKA_SEND: ['VIGIE_KAFKA_SEND', 'a send failed (this test only)'] });

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
    const error = new VigieError(TEST_ERRORS.KAFKA_SEND, 'send failed', {
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
