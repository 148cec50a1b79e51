import { describe, expect, it } from 'vitest';
import { pglogReadiness, type ReadinessState } from './readiness.js';

const ok: ReadinessState = {
  fatal: undefined,
  health: { state: 'ok', since: '2026-01-01T00:00:00.000Z' },
  running: true,
  pausedReason: undefined,
  hasFile: true,
};

describe('pglogReadiness', () => {
  it('is ready when running, reading a file, healthy and not paused', () => {
    expect(pglogReadiness(ok)).toMatchObject({ ready: true, reasons: [] });
  });

  it('lists every reason, and shows anonymous callers the source error code but no path or message', () => {
    const r = pglogReadiness({
      ...ok,
      health: { state: 'failing', since: '2026-01-01T00:00:00.000Z', error: 'VIGIE_PGLOG_SOURCE_READ EACCES' },
      pausedReason: 'kafka: in-flight window full; reading paused',
    });
    expect(r.ready).toBe(false);
    expect(r.reasons).toEqual([
      'source: VIGIE_PGLOG_SOURCE_READ EACCES since 2026-01-01T00:00:00.000Z',
      'kafka: in-flight window full; reading paused',
    ]);
    expect(r.summary?.[0]).toBe('source: VIGIE_PGLOG_SOURCE_READ EACCES');
  });

  it('puts a fatal reason first, in place of the source health, and says when not started or no file yet', () => {
    const fatal = pglogReadiness({
      ...ok,
      fatal: 'kafka: refused /var/lib/secret',
      health: { state: 'failing', since: 'x', error: 'VIGIE_PGLOG_READ_LOOP' },
    });
    expect(fatal.reasons).toEqual(['kafka: refused /var/lib/secret']);
    expect(fatal.summary?.join(' ')).not.toContain('/var/lib/secret');
    expect(pglogReadiness({ ...ok, running: false, hasFile: false }).reasons).toEqual(['not started']);
    expect(pglogReadiness({ ...ok, hasFile: false }).reasons).toEqual(['source: no log file found yet']);
  });
});
