import { describe, expect, it } from 'vitest';
import { createSqlAnalyzer } from './analyzer.js';
import { LruCache } from './lru-cache.js';

describe('analysis cache', () => {
  it('answers 10,000 statements of one shape from one parse, each correctly', async () => {
    const analyzer = await createSqlAnalyzer({ cacheSize: 100 });
    const first = analyzer.analyze("SELECT * FROM citizens WHERE nir = '100000000000000' AND email = 'p0@exemple.fr'");
    for (let i = 1; i < 10_000; i++) {
      const nir = String(100_000_000_000_000 + i * 7919);
      const analysis = analyzer.analyze(`SELECT * FROM citizens WHERE nir = '${nir}' AND email = 'p${i}@exemple.fr'`);
      expect(analysis.redacted).toBe('SELECT * FROM citizens WHERE nir = $1 AND email = $2');
      expect(analysis.reads).toEqual(['citizens']);
      expect(analysis.fingerprint).toBe(first.fingerprint);
      expect(JSON.stringify(analysis)).not.toContain(nir);
    }
    expect(analyzer.cacheStats()).toEqual({ size: 1, capacity: 100, hits: 9_999, misses: 1 });
  });

  it('never holds more shapes than its bound', async () => {
    const analyzer = await createSqlAnalyzer({ cacheSize: 50 });
    for (let i = 0; i < 10_000; i++) {
      // Distinct shapes: the table name changes, not just a literal.
      const analysis = analyzer.analyze(`SELECT * FROM t${i} WHERE id = ${i}`);
      expect(analysis.reads).toEqual([`t${i}`]);
      expect(analyzer.cacheStats().size).toBeLessThanOrEqual(50);
    }
    expect(analyzer.cacheStats()).toMatchObject({ size: 50, hits: 0, misses: 10_000 });
  });

  it('can be turned off and skips giant statements', async () => {
    const off = await createSqlAnalyzer({ cacheSize: 0 });
    off.analyze('SELECT 1');
    off.analyze('SELECT 2');
    expect(off.cacheStats()).toMatchObject({ size: 0, hits: 0, misses: 2 });

    const small = await createSqlAnalyzer({ maxCachedLength: 100 });
    const values = Array.from({ length: 50 }, (_, i) => `(${i}, 'x')`).join(', ');
    small.analyze(`INSERT INTO t VALUES ${values}`);
    small.analyze(`INSERT INTO t VALUES ${values}`);
    expect(small.cacheStats()).toMatchObject({ size: 0, misses: 2 });
  });

  it('does not cache statements the parser refused', async () => {
    const analyzer = await createSqlAnalyzer();
    analyzer.analyze("SELECT * FROM citizens WHERE nir = '1' AND");
    analyzer.analyze("SELECT * FROM citizens WHERE nir = '2' AND");
    expect(analyzer.cacheStats()).toMatchObject({ size: 0, hits: 0, misses: 2 });
  });
});

describe('LruCache', () => {
  it('evicts the least recently used entry', () => {
    const cache = new LruCache<string, number>(2);
    cache.set('a', 1);
    cache.set('b', 2);
    expect(cache.get('a')).toBe(1); // a is now the most recent
    cache.set('c', 3);
    expect(cache.get('b')).toBeUndefined();
    expect(cache.get('a')).toBe(1);
    expect(cache.get('c')).toBe(3);
    expect(cache.size).toBe(2);
  });

  it('replaces a value without growing', () => {
    const cache = new LruCache<string, number>(2);
    cache.set('a', 1);
    cache.set('a', 2);
    expect(cache.size).toBe(1);
    expect(cache.get('a')).toBe(2);
  });
});
