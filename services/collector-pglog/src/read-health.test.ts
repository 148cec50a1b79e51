import { describe, expect, it } from 'vitest';
import type { SourceHealth } from '@vigie/contract';
import { createReadHealth, isSourceError, sourceErrorCode } from './read-health.js';
import { LogSourceError } from './source-tail.js';

const errno = (code: string) => Object.assign(new Error(code), { code });

describe('read health', () => {
  it('tells file-system errors (retried) from bugs (fatal)', () => {
    expect(isSourceError(new LogSourceError('/log/a.json', errno('EACCES')))).toBe(true);
    expect(isSourceError(errno('ENOENT'))).toBe(true);
    expect(isSourceError(new TypeError('x is undefined'))).toBe(false);
    expect(isSourceError(undefined)).toBe(false);
  });

  it('names a known errno in the code, anything else as OTHER', () => {
    expect(sourceErrorCode(new LogSourceError('/log/a.json', errno('EACCES')))).toBe('VIGIE_PGLOG_SOURCE_READ EACCES');
    expect(sourceErrorCode(errno('EIO'))).toBe('VIGIE_PGLOG_SOURCE_READ EIO');
    expect(sourceErrorCode(errno('EWEIRD'))).toBe('VIGIE_PGLOG_SOURCE_READ OTHER');
  });

  it('moves (and reports) only when the state or the error changes', () => {
    const seen: SourceHealth[] = [];
    const health = createReadHealth((h) => seen.push(h));
    expect(health.current.state).toBe('ok');
    health.set('ok');
    health.set('failing', 'VIGIE_PGLOG_SOURCE_READ EACCES');
    health.set('failing', 'VIGIE_PGLOG_SOURCE_READ EACCES');
    health.set('failing', 'VIGIE_PGLOG_SOURCE_READ ENOENT');
    health.set('ok');
    expect(seen.map((h) => [h.state, h.error])).toEqual([
      ['failing', 'VIGIE_PGLOG_SOURCE_READ EACCES'],
      ['failing', 'VIGIE_PGLOG_SOURCE_READ ENOENT'],
      ['ok', undefined],
    ]);
    expect(health.current).toBe(seen[2]);
  });
});
