import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { respondMain } from './respond-command.js';

function io() {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, io: { out: (l: string) => out.push(l), err: (l: string) => err.push(l) } };
}

/** A fetch that records the request and answers with `status` and `body`. */
function fakeFetch(status: number, body: unknown) {
  const requests: { url: string; init: RequestInit }[] = [];
  const fn = (async (url: string, init: RequestInit) => {
    requests.push({ url, init });
    return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
  }) as unknown as typeof fetch;
  return { fn, requests };
}

const env = { VIGIE_API_TOKEN: 'token-0123456789abcdef', VIGIE_URL: 'http://127.0.0.1:18099/', USER: 'alice' };
const lock = {
  action: 'lock',
  mode: 'manual',
  by: 'alice',
  at: '2026-11-26T01:14:06.000Z',
  role: 'dba_alice',
  result: 'planned',
  detail: 'would run ALTER ROLE dba_alice NOLOGIN until 2026-11-26T01:14:26.000Z, then restore LOGIN',
};

describe('vigie respond', () => {
  it('is a dry run without --yes: asks the API with dryRun true and prints what would be done', async () => {
    const f = fakeFetch(200, { status: 'dry-run', actions: [lock] });
    const o = io();
    expect(await respondMain(['dump:local:6b07e26d.1a57', '--lock', '--for', '20s'], env, o.io, f.fn)).toBe(0);
    expect(f.requests[0]?.url).toBe('http://127.0.0.1:18099/api/alerts/dump%3Alocal%3A6b07e26d.1a57/response');
    expect(JSON.parse(String(f.requests[0]?.init.body))).toEqual({
      terminate: false,
      lock: true,
      lockFor: '20s',
      dryRun: true,
      by: 'alice',
    });
    expect((f.requests[0]?.init.headers as Record<string, string>)['authorization']).toBe(
      `Bearer ${env.VIGIE_API_TOKEN}`,
    );
    expect(o.out).toEqual([
      'dry run: nothing done for alert dump:local:6b07e26d.1a57; this is what --yes would do:',
      `  lock      dba_alice: planned — ${lock.detail}`,
    ]);
  });

  it('acts with --yes, reads the token from --token-file, and exits 1 when an action failed', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'vigie-respond-')), 'token');
    writeFileSync(file, 'file-token-0123456789\n');
    const failed = {
      ...lock,
      action: 'terminate',
      result: 'failed',
      pid: 6743,
      detail: 'pg_terminate_backend(6743) returned false',
    };
    const f = fakeFetch(200, { status: 'done', actions: [failed] });
    const o = io();
    const code = await respondMain(
      ['a1', '--terminate', '--yes', '--token-file', file, '--by', 'oncall'],
      {},
      o.io,
      f.fn,
    );
    expect(code).toBe(1);
    expect(JSON.parse(String(f.requests[0]?.init.body))).toMatchObject({
      terminate: true,
      dryRun: false,
      by: 'oncall',
    });
    expect((f.requests[0]?.init.headers as Record<string, string>)['authorization']).toBe(
      'Bearer file-token-0123456789',
    );
    expect(o.out).toContain('  terminate dba_alice (backend 6743): failed — pg_terminate_backend(6743) returned false');
  });

  it('prints a refusal as a clear error and exits 1', async () => {
    const f = fakeFetch(403, {
      error: 'VIGIE_RESPOND_REFUSED',
      message: 'response refused: x is listed in response.never',
    });
    const o = io();
    expect(await respondMain(['a1', '--lock', '--yes'], env, o.io, f.fn)).toBe(1);
    expect(o.err).toEqual(['vigie respond: VIGIE_RESPOND_REFUSED: response refused: x is listed in response.never']);
  });

  it('refuses bad usage with exit 2, listing every problem, without calling the API', async () => {
    const f = fakeFetch(200, {});
    const o = io();
    expect(await respondMain(['a1', 'a2', '--for', '4 hours', '--yes', '--dry-run'], env, o.io, f.fn)).toBe(2);
    expect(o.err[0]).toContain('one alert id only (also given: a2)');
    expect(o.err[0]).toContain('ask for --terminate and/or --lock');
    expect(o.err[0]).toContain('--for is the duration of a --lock');
    expect(o.err[0]).toContain('--for: expected a duration such as 20s, 15m, 4h or 7d, found "4 hours"');
    expect(o.err[0]).toContain('--yes and --dry-run contradict each other');
    const missing = io();
    expect(await respondMain(['a1', '--lock'], { VIGIE_START_DIR: '/nonexistent' }, missing.io, f.fn)).toBe(2);
    expect(missing.err[0]).toContain('no API token: /nonexistent/api-token does not exist');
    expect(f.requests).toEqual([]);
  });
});
