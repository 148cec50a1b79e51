import { afterEach, describe, expect, it, vi } from 'vitest';
import { main } from './main.js';

class Exit extends Error {
  constructor(readonly code: number | undefined) {
    super(`exit ${code}`);
  }
}

describe('vigie run detector', () => {
  afterEach(() => vi.restoreAllMocks());

  it('refuses an unknown option with the usage and exit code 2', async () => {
    vi.spyOn(process, 'exit').mockImplementation((code?: number | string | null) => {
      throw new Exit(typeof code === 'number' ? code : undefined);
    });
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    await expect(main(['--bogus'], {})).rejects.toMatchObject({ code: 2 });
    expect(String(stderr.mock.calls[0]?.[0])).toMatch(/bogus[\s\S]*usage: vigie run detector/);
  });

  it('lists configuration problems and exits 2 before starting anything', async () => {
    vi.spyOn(process, 'exit').mockImplementation((code?: number | string | null) => {
      throw new Exit(typeof code === 'number' ? code : undefined);
    });
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    await expect(main([], { VIGIE_HTTP__PORT: 'eighty' })).rejects.toMatchObject({ code: 2 });
    const text = String(stderr.mock.calls[0]?.[0]);
    expect(text).toContain('http.port');
    expect(text).toContain('api.token');
  });
});
