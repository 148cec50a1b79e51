import type { SqlAnalysis } from '@vigie/contract';
import { setFlagsFromString } from 'node:v8';
import type * as LibPgQueryModule from 'libpg-query';
import { collectObjects } from './collect-objects.js';
import { copyInfo } from './copy-info.js';
import { isDangerousFunction } from './dangerous-functions.js';
import { SQL_ERRORS, VigieSqlError } from './errors.js';
import { LruCache } from './lru-cache.js';
import { createParameterHasher } from './parameter-hash.js';
import { sanitizeParseError } from './parse-error.js';
import { nodeOf, unwrapNode } from './parse-tree.js';
import { privilegeEffects } from './privileges.js';
import { queryBounds } from './query-bounds.js';
import { redactByPattern, redactSql } from './redact.js';
import { remoteAccess } from './remote-access.js';
import { settingEffects } from './settings.js';
import { guessKind, statementKind } from './statement-kind.js';

type LibPgQuery = typeof LibPgQueryModule;

/** Settings of {@link createSqlAnalyzer}. */
export interface SqlAnalyzerOptions {
  /** Most analyses kept, keyed by statement shape (the text with literals replaced). 0 disables the cache. */
  cacheSize?: number;
  /**
   * Longest shape (in characters) worth caching: one-off giant statements (`INSERT … VALUES` with thousands of rows)
   * would otherwise pin megabytes each.
   */
  maxCachedLength?: number;
  /** Site secret for {@link SqlAnalyzer.hashParameter}; without it no parameter hashes are produced. */
  hmacKey?: string | Buffer;
}

/** Cache counters, for the collector's metrics. */
export interface SqlCacheStats {
  size: number;
  capacity: number;
  hits: number;
  misses: number;
}

/** Analyses SQL statements with PostgreSQL's own parser; see {@link createSqlAnalyzer}. */
export interface SqlAnalyzer {
  /**
   * What a statement does, with every literal redacted. Never throws: a statement the parser refuses (truncated,
   * `<not logged>`, a syntax error) still gets a kind guessed from its first word, a redacted text and a
   * `parseError` that says what and where but quotes nothing. The result is frozen and may be shared between calls.
   */
  analyze(sql: string): SqlAnalysis;
  /** HMAC of a bound parameter value for `parameterHashes`, or undefined when no `hmacKey` was configured. */
  hashParameter(value: string): string | undefined;
  /** Cache size and hit/miss counts since creation. */
  cacheStats(): SqlCacheStats;
}

function freeze(analysis: SqlAnalysis): SqlAnalysis {
  Object.freeze(analysis.reads);
  Object.freeze(analysis.writes);
  Object.freeze(analysis.functions);
  Object.freeze(analysis.dangerousFunctions);
  if (analysis.copy !== undefined) Object.freeze(analysis.copy);
  if (analysis.settings !== undefined) for (const c of Object.freeze(analysis.settings)) Object.freeze(c);
  if (analysis.droppedExtensions !== undefined) Object.freeze(analysis.droppedExtensions);
  if (analysis.privileges !== undefined) for (const p of Object.freeze(analysis.privileges)) Object.freeze(p);
  if (analysis.remoteHosts !== undefined) Object.freeze(analysis.remoteHosts);
  if (analysis.hiddenReads !== undefined) Object.freeze(analysis.hiddenReads);
  return Object.freeze(analysis);
}

function unparsed(kind: string, redacted: string, parseError: string): SqlAnalysis {
  return freeze({
    kind,
    reads: [],
    writes: [],
    hasWhere: false,
    hasLimit: false,
    functions: [],
    dangerousFunctions: [],
    redacted,
    parseError,
  });
}

const EMPTY: SqlAnalysis = freeze({
  kind: 'empty',
  reads: [],
  writes: [],
  hasWhere: false,
  hasLimit: false,
  functions: [],
  dangerousFunctions: [],
  redacted: '',
});

/** Statements analysed once at start-up (see createSqlAnalyzer): the node types and paths most logs use. */
const WARM_UP = [
  'BEGIN',
  "SELECT a.x, count(*), max(b) FROM s.t AS a JOIN u ON (a.id = u.id) LEFT JOIN v USING (k) WHERE a.y = 'z' AND a.n IN " +
    '(SELECT n FROM w WHERE m > 1.5) GROUP BY 1 ORDER BY 2 DESC LIMIT 10',
  'WITH c AS (SELECT 1) INSERT INTO t (a, b) SELECT $1, lower(b) FROM c RETURNING a',
  'UPDATE t SET a = a + -1 WHERE id = 2',
  'DELETE FROM t WHERE id = 3',
  'COPY public.t (a, b) TO stdout',
  "SET search_path = 'x'",
  'COMMIT',
];

function checkCount(name: string, value: number): void {
  if (!Number.isInteger(value) || value < 0) {
    throw new VigieSqlError(SQL_ERRORS.CONFIG, `${name} must be a non-negative integer, got ${value}`);
  }
}

/**
 * Loads PostgreSQL's parser (libpg-query, WebAssembly) and returns an analyzer. Analyses are cached by statement
 * shape: statements that differ only in literal values (the usual case in a log) cost one lexer pass and a map
 * lookup after the first. Throws `VIGIE_SQL_INIT` (not retriable) when the parser cannot be loaded and
 * `VIGIE_SQL_CONFIG` for invalid options.
 */
export async function createSqlAnalyzer({
  cacheSize = 10_000,
  maxCachedLength = 4096,
  hmacKey,
}: SqlAnalyzerOptions = {}): Promise<SqlAnalyzer> {
  checkCount('cacheSize', cacheSize);
  checkCount('maxCachedLength', maxCachedLength);
  let pg: LibPgQuery;
  try {
    // Baseline WebAssembly code only (Liftoff), set before the module compiles. The parser runs on cache misses
    // alone, and V8's background optimising compiles of its functions kept ~65 MB resident in a malloc arena that
    // glibc does not give back: the log collector's pipeline peaked at 196-207 MB with them, 128-144 MB without, on
    // bench/pglog-throughput's log. A miss costs 47 → 58 µs (bench/sql-analyze.ts); hits are unchanged.
    setFlagsFromString('--liftoff-only');
    pg = await import('libpg-query');
    await pg.loadModule();
  } catch (cause) {
    throw new VigieSqlError(SQL_ERRORS.INIT, 'cannot load the PostgreSQL parser (libpg-query WebAssembly)', {
      cause,
    });
  }
  const { parseSync, fingerprintSync, scanSync } = pg;

  /**
   * A statement the parser refused is where values sit without quotes (`WHERE name = Jeanne Martin`, `email =
   * jean@exemple.fr`): every plain identifier of it is hidden too (PostgreSQL's own scanner tells them from
   * keywords), so only keywords, operators and placeholders are left. Table names go with them: such a statement
   * never ran.
   */
  function hideWords(redacted: string): string {
    let tokens: readonly { start: number; end: number; tokenName?: string }[];
    try {
      tokens = scanSync(redacted).tokens;
    } catch {
      // The scanner gave up too: keep the first word (the kind), hide every other word.
      let first = true;
      return redactByPattern(redacted).replace(/[^\s$0-9().,;:*=<>!+\-/]+/g, (w) => {
        if (first) {
          first = false;
          return w;
        }
        return '$0';
      });
    }
    const bytes = Buffer.from(redacted, 'utf8');
    let next = 1;
    for (const m of redacted.matchAll(/\$(\d+)/g)) next = Math.max(next, Number(m[1]) + 1);
    let out = '';
    let at = 0;
    for (const t of tokens) {
      if (t.tokenName !== 'IDENT') continue;
      out += bytes.toString('utf8', at, t.start) + `$${next++}`;
      at = t.end;
    }
    return out + bytes.toString('utf8', at);
  }
  const cache = new LruCache<string, SqlAnalysis>(cacheSize);
  const hasher = hmacKey === undefined ? undefined : createParameterHasher(hmacKey);
  let hits = 0;
  let misses = 0;

  /** Analysis of a statement that parses; `cache` says whether the result may be cached under its shape. */
  function analyzeParsed(
    statements: readonly { stmt?: unknown }[],
    redacted: string,
    shape: string,
    sql: string,
  ): { analysis: SqlAnalysis; cacheable: boolean } {
    const first = statements[0]?.stmt;
    const node = unwrapNode(first);
    const objects = collectObjects(statements);
    const bounds = queryBounds(first);
    // A COPY hidden behind another statement of a multi-statement string is still a COPY.
    let copy: SqlAnalysis['copy'];
    for (const { stmt } of statements) {
      const copyStmt = nodeOf(stmt, 'CopyStmt');
      if (copyStmt !== undefined) {
        copy = copyInfo(copyStmt);
        break;
      }
    }
    // Fingerprint the shape, not the text: libpg-query's fingerprint keeps some literals (FETCH counts, COPY file
    // names, COMMENT text), and a shape-keyed cache must not make the fingerprint depend on which literal came first.
    const effects = settingEffects(statements);
    const grants = privilegeEffects(statements);
    const remote = remoteAccess(statements, (text) => parseSync(text).stmts ?? []);
    let fingerprint: string | undefined;
    // set_config('pgaudit.log', …) names its setting with a literal: the shape (`set_config($1, …)`) does not; nor
    // does it keep `SET ROLE 'x'`, a dblink connection string or the query string of query_to_xml.
    let cacheable =
      !effects.fromLiteral && !grants.fromLiteral && remote.remoteHosts.length === 0 && remote.hiddenReads.length === 0;
    try {
      fingerprint = fingerprintSync(shape);
    } catch {
      cacheable = false;
      try {
        fingerprint = fingerprintSync(sql);
      } catch {
        // Parsed but not fingerprintable: leave it out rather than guess.
      }
    }
    const analysis: SqlAnalysis = {
      kind: node === undefined ? 'other' : statementKind(node[0], node[1]),
      reads: objects.reads,
      writes: objects.writes,
      hasWhere: bounds.hasWhere,
      hasLimit: bounds.hasLimit,
      ...(copy === undefined ? {} : { copy }),
      functions: objects.functions,
      dangerousFunctions: objects.functions.filter(isDangerousFunction),
      ...(effects.settings.length > 0 && { settings: effects.settings }),
      ...(effects.droppedExtensions.length > 0 && { droppedExtensions: effects.droppedExtensions }),
      ...(fingerprint === undefined ? {} : { fingerprint }),
      redacted,
      ...(grants.privileges.length > 0 && { privileges: grants.privileges }),
      ...(remote.remoteHosts.length > 0 && { remoteHosts: remote.remoteHosts }),
      ...(remote.hiddenReads.length > 0 && { hiddenReads: remote.hiddenReads }),
      ...(bounds.paging !== undefined && { paging: bounds.paging }),
      ...(bounds.countOnly === true && { countOnly: true }),
    };
    return { analysis: freeze(analysis), cacheable };
  }

  function analyzeOrThrow(sql: string): SqlAnalysis {
    const { redacted, shape } = redactSql(sql);
    if (shape === '') return EMPTY;
    const fits = shape.length <= maxCachedLength;
    if (fits) {
      const hit = cache.get(shape);
      if (hit !== undefined) {
        hits++;
        return hit;
      }
    }
    misses++;
    let statements: readonly { stmt?: unknown }[];
    try {
      statements = parseSync(sql).stmts ?? [];
    } catch (error) {
      // The same statement with its literals as the lexer delimits them: under `standard_conforming_strings = off`
      // (`'it\'s'`) PostgreSQL's default parser reads the strings wrong and fails, the lexer reads them as the
      // server did; a statement cut short ends in a literal or comment that the shape closes. Not cached: whether
      // and where a statement fails can depend on its literals (`U&'\zzzz'`).
      let shaped: readonly { stmt?: unknown }[] | undefined;
      try {
        shaped = parseSync(shape).stmts;
      } catch {
        shaped = undefined;
      }
      if (shaped !== undefined && shaped.length > 0) {
        const { analysis } = analyzeParsed(shaped, redacted, shape, shape);
        return freeze({ ...analysis, parseError: sanitizeParseError(error) });
      }
      return unparsed(guessKind(redacted), hideWords(redacted), sanitizeParseError(error));
    }
    if (statements.length === 0) return EMPTY;
    const { analysis, cacheable } = analyzeParsed(statements, redacted, shape, sql);
    if (fits && cacheable) cache.set(shape, analysis);
    return analysis;
  }

  // V8 compiles each WebAssembly function on its first call, so the first statements of a log paid for it: 55-59 ms
  // for the bench's first one, ~0.1 s of the collector pipeline's main-thread CPU (2.17 → 2.05 s, median of 5).
  // Start-up pays it instead (createSqlAnalyzer ~30 → ~90 ms), on statements of the usual kinds; nothing is cached
  // or counted, and a failure here changes nothing.
  for (const sql of WARM_UP) {
    try {
      const { redacted, shape } = redactSql(sql);
      analyzeParsed(parseSync(sql).stmts ?? [], redacted, shape, sql);
    } catch {
      // The analyzer reports its own failures statement by statement.
    }
  }

  return {
    analyze(sql: string): SqlAnalysis {
      try {
        return analyzeOrThrow(typeof sql === 'string' ? sql : String(sql));
      } catch {
        // A bug in this library must cost one statement's detail, never the statement or the collector.
        let redacted: string;
        try {
          redacted = redactSql(String(sql)).redacted;
        } catch {
          redacted = redactByPattern(String(sql));
        }
        return unparsed(guessKind(redacted), redacted, 'internal analysis error');
      }
    },
    hashParameter(value: string): string | undefined {
      return hasher?.(value);
    },
    cacheStats(): SqlCacheStats {
      return { size: cache.size, capacity: cache.capacity, hits, misses };
    },
  };
}
