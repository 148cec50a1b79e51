import { beforeAll, describe, expect, it } from 'vitest';
import { createSqlAnalyzer, type SqlAnalyzer } from './analyzer.js';

let analyzer: SqlAnalyzer;

beforeAll(async () => {
  analyzer = await createSqlAnalyzer();
});

describe('paging and count-only reads', () => {
  it.each([
    ['SELECT * FROM citizens ORDER BY id LIMIT 100 OFFSET 200', 'offset'],
    ['SELECT nir, name FROM citizens LIMIT $1 OFFSET $2', 'offset'],
    ['SELECT * FROM citizens WHERE id > $1 ORDER BY id LIMIT 100', 'keyset'],
    ['SELECT * FROM citizens c WHERE c.region = $1 AND c.id >= $2 ORDER BY c.id LIMIT 50', 'keyset'],
    ['SELECT * FROM citizens WHERE $1 < id ORDER BY id DESC FETCH FIRST 10 ROWS ONLY', 'keyset'],
    ['DECLARE c CURSOR FOR SELECT * FROM citizens ORDER BY id LIMIT 10 OFFSET 10', 'offset'],
  ])('%s is a page (%s)', (sql, paging) => {
    expect(analyzer.analyze(sql).paging).toBe(paging);
  });

  it.each([
    'SELECT * FROM citizens WHERE id = $1',
    'SELECT * FROM citizens ORDER BY id LIMIT 10',
    'SELECT * FROM citizens WHERE id > $1 ORDER BY name LIMIT 10',
    'SELECT * FROM citizens WHERE id > $1 ORDER BY id',
    'SELECT * FROM citizens WHERE id > $1 OR id < $2 ORDER BY id LIMIT 10',
    'SELECT * FROM a LIMIT 1 OFFSET 1 UNION SELECT * FROM b',
  ])('%s is not a page', (sql) => {
    expect(analyzer.analyze(sql).paging).toBeUndefined();
  });

  it('tells counts from rows', () => {
    expect(analyzer.analyze('SELECT count(*) FROM citizens').countOnly).toBe(true);
    expect(analyzer.analyze('SELECT count(*), count(DISTINCT region) FROM social.payments').countOnly).toBe(true);
    expect(analyzer.analyze('SELECT count(*), max(nir) FROM citizens').countOnly).toBeUndefined();
    expect(analyzer.analyze('SELECT region, count(*) FROM citizens GROUP BY region').countOnly).toBeUndefined();
    expect(analyzer.analyze('SELECT count(*) OVER (), nir FROM citizens').countOnly).toBeUndefined();
    expect(analyzer.analyze('SELECT * FROM citizens').countOnly).toBeUndefined();
  });
});
