// Micro-benchmark of @vigie/sql: µs per statement for analyze() on cache hits and misses, against the bare
// libpg-query calls it is built from. Run: npx tsc -b bench && node dist/bench/sql-analyze.js
import { createSqlAnalyzer, redactSql } from '@vigie/sql';
import { fingerprintSync, loadModule, normalizeSync, parseSync, scanSync } from 'libpg-query';

let seed = 42;
function rand(n: number): number {
  seed = (seed * 1103515245 + 12345) & 0x7fffffff;
  return seed % n;
}
const nir = (): string => `${1 + rand(2)}${String(rand(1e7)).padStart(7, '0')}${String(rand(1e7)).padStart(7, '0')}`;

// A realistic mix for a monitored cluster: application OLTP (pgbench), operator look-ups of personal data, psql and
// pg_dump catalog queries, pg_dump's COPY and session set-up.
const SHAPES: (() => string)[] = [
  () => `UPDATE pgbench_accounts SET abalance = abalance + ${rand(10000) - 5000} WHERE aid = ${rand(100000)}`,
  () => `SELECT abalance FROM pgbench_accounts WHERE aid = ${rand(100000)}`,
  () =>
    `INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES (${rand(10)}, ${rand(1)}, ${rand(100000)}, ${rand(5000)}, CURRENT_TIMESTAMP)`,
  () =>
    `SELECT c.id, c.nir, c.email FROM citizens c JOIN social.payments p ON p.citizen_id = c.id WHERE c.nir = '${nir()}' AND p.amount > ${rand(1000)}.${rand(100)} ORDER BY p.created_at DESC LIMIT 50`,
  () => `SELECT * FROM citizens WHERE email = 'user${rand(1e6)}@exemple.fr'`,
  () => `COPY public.citizens (id, nir, name, email) TO stdout;`,
  () => `SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY`,
  () => `LOCK TABLE public.t${rand(20)} IN ACCESS SHARE MODE`,
  () =>
    `SELECT n.nspname, c.relname, pg_catalog.pg_get_userbyid(c.relowner) FROM pg_catalog.pg_class c LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r','p','v','m') AND n.nspname <> 'pg_catalog' AND n.nspname !~ '^pg_toast' AND c.oid = ${rand(90000)} ORDER BY 1,2`,
  () => `BEGIN`,
];

const N = 20_000;
const statements = Array.from({ length: N }, () => (SHAPES[rand(SHAPES.length)] as () => string)());

/** Best of five passes over the whole mix: the first passes pay for JIT compilation and are 2-3x slower. */
function measure(name: string, fn: (sql: string) => unknown): void {
  let best = Infinity;
  for (let round = 0; round < 5; round++) {
    const start = process.hrtime.bigint();
    for (const sql of statements) fn(sql);
    best = Math.min(best, Number(process.hrtime.bigint() - start) / 1_000 / N);
  }
  console.log(`${name.padEnd(44)} ${best.toFixed(2).padStart(8)} µs/statement`);
}

await loadModule();
const cached = await createSqlAnalyzer();
const uncached = await createSqlAnalyzer({ cacheSize: 0 });
cached.analyze('SELECT 1');

console.log(`${N} statements, ${SHAPES.length} shapes, Node ${process.version}`);
measure('analyze, cache hits (steady state)', (sql) => cached.analyze(sql));
measure('analyze, cache misses (cacheSize 0)', (sql) => uncached.analyze(sql));
measure('  redactSql (lexer, on every call)', (sql) => redactSql(sql));
measure('  parseSync (bare)', (sql) => parseSync(sql));
measure('  fingerprintSync (bare)', (sql) => fingerprintSync(sql));
measure('  normalizeSync (bare)', (sql) => normalizeSync(sql));
measure('  scanSync (bare)', (sql) => scanSync(sql));
measure('  fingerprint + normalize (alt. cache key)', (sql) => [fingerprintSync(sql), normalizeSync(sql)]);
console.log('cache', cached.cacheStats());
