import { MESSAGE_NOT_FORWARDED } from '@vigie/contract';
import type { LogRecord } from './log-record.js';

/**
 * PostgreSQL error messages Vigie knows, written like the server's own format strings (`src/backend/…` `errmsg`):
 * `"%v"` and `%v` are values (quoted user input, data, paths: always replaced by `$n`), `%k` a word the server
 * prints from its catalog or a fixed list (an object kind, a type, a table it found: kept when it looks like a plain
 * name, else replaced), `%d` a number. A message that matches none of them is not forwarded at all: free text cannot
 * be told apart from the values in it (`invalid input syntax for type json` quotes half a document in DETAIL; an
 * extension can say anything).
 */
const CATALOGUE = [
  // Class 42: syntax, names, access.
  'syntax error at or near "%v"',
  'syntax error at end of input',
  'unterminated quoted string at or near "%v"',
  'unterminated dollar-quoted string at or near "%v"',
  'unterminated quoted identifier at or near "%v"',
  'unterminated /* comment at or near "%v"',
  'zero-length delimited identifier at or near "%v"',
  'trailing junk after numeric literal at or near "%v"',
  'permission denied for %k',
  'permission denied to set role "%v"',
  'permission denied to set parameter "%v"',
  'permission denied to %k',
  'must be owner of %k',
  'must be superuser to %k',
  'must be superuser or have privileges of the %k role to %k',
  'must be superuser or a member of the %k role to %k',
  'must be member of role "%v"',
  '%k "%v" does not exist',
  '%k "%v" already exists',
  'column "%v" of relation "%v" does not exist',
  'column %v does not exist',
  'function %v does not exist',
  'procedure %v does not exist',
  'operator does not exist: %v',
  'large object %v does not exist',
  'missing FROM-clause entry for table "%v"',
  'invalid reference to FROM-clause entry for table "%v"',
  'column reference "%v" is ambiguous',
  'column "%v" must appear in the GROUP BY clause or be used in an aggregate function',
  'column "%v" is of type %k but expression is of type %k',
  'column "%v" specified more than once',
  'aggregate functions are not allowed in %k',
  'subquery in FROM must have an alias',
  'each %k query must have the same number of columns',
  'cannot execute %k in a read-only transaction',
  'cannot drop %v because other objects depend on it',
  'cannot insert a non-DEFAULT value into column "%v"',
  'cannot cast type %k to %k',
  'argument of %k must be type %k, not type %k',
  'could not determine data type of parameter $%d',
  'there is no unique or exclusion constraint matching the ON CONFLICT specification',
  'INSERT has more expressions than target columns',
  'INSERT has more target columns than expressions',
  'query has no destination for result data',
  'current transaction is aborted, commands ignored until end of transaction block',
  'prepared statement "%v" already exists',
  // Class 22 / 23: data and constraints (the value is what must not leave).
  'invalid input syntax for type %k: "%v"',
  'invalid input syntax for type %k',
  'invalid input value for enum %k: "%v"',
  'malformed array literal: "%v"',
  'malformed record literal: "%v"',
  'malformed range literal: "%v"',
  'value too long for type %k',
  'value "%v" is out of range for type %k',
  '%k out of range',
  'numeric field overflow',
  'division by zero',
  'date/time field value out of range: "%v"',
  'invalid value "%v" for "%v"',
  'time zone "%v" not recognized',
  'invalid regular expression: %v',
  'invalid escape string',
  'invalid byte sequence for encoding "%k": %v',
  'character with byte sequence %v in encoding "%k" has no equivalent in encoding "%k"',
  'string is not a valid identifier: "%v"',
  'array subscript out of range',
  'null value in column "%v" of relation "%v" violates not-null constraint',
  'new row for relation "%v" violates check constraint "%v"',
  'duplicate key value violates unique constraint "%v"',
  'insert or update on table "%v" violates foreign key constraint "%v"',
  'update or delete on table "%v" violates foreign key constraint "%v" on table "%v"',
  'new row violates row-level security policy for table "%v"',
  'query returned more than one row',
  'query returned no rows',
  // COPY, files, programs (server-side reads and writes: paths are user input).
  'could not open file "%v" for reading: %k',
  'could not open file "%v" for writing: %k',
  'could not open file "%v": %k',
  'could not stat file "%v": %k',
  'could not read file "%v": %k',
  'absolute path not allowed',
  'path must be in or below the data directory',
  'program "%v" failed',
  'could not execute command "%v": %k',
  'COPY from stdin failed: %v',
  'missing data for column "%v"',
  'extra data after last expected column',
  'unterminated CSV quoted field',
  // Classes 40 / 53 / 57: concurrency, resources, cancellation.
  'canceling statement due to %k',
  'terminating connection due to %k',
  'could not serialize access due to %k',
  'deadlock detected',
  'could not obtain lock on relation "%v"',
  'out of shared memory',
  'out of memory',
  'temporary file size exceeds temp_file_limit (%v)',
] as const;

interface Shape {
  regex: RegExp;
  /** The fixed parts around the placeholders, and each placeholder's type. */
  parts: string[];
  holes: ('v' | 'k' | 'd')[];
}

const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

function compile(format: string): Shape {
  const parts: string[] = [];
  const holes: Shape['holes'] = [];
  let source = '^';
  let at = 0;
  const re = /"%v"|%v|%k|%d/g;
  for (let m = re.exec(format); m !== null; m = re.exec(format)) {
    const fixed = format.slice(at, m.index);
    parts.push(fixed);
    source += escape(fixed);
    if (m[0] === '"%v"' || m[0] === '%v') {
      holes.push('v');
      source += m[0] === '"%v"' ? '"([\\s\\S]*)"' : '([\\s\\S]*)';
    } else if (m[0] === '%k') {
      holes.push('k');
      // Bounded and quote-free: a kind, a type or a name, never a run the regex could backtrack through for long.
      source += '([^"\\n]{1,100}?)';
    } else {
      holes.push('d');
      source += '(\\d+)';
    }
    at = m.index + m[0].length;
  }
  parts.push(format.slice(at));
  source += `${escape(format.slice(at))}$`;
  return { regex: new RegExp(source), parts, holes };
}

const SHAPES: readonly Shape[] = CATALOGUE.map(compile);

/** Longest message matched against the catalogue (a value can be long: such a message is not forwarded). */
const MAX_MESSAGE = 8192;

/** A word kept in a template: a plain name or phrase, never an address, a long number or punctuation soup. */
const PLAIN = /^[A-Za-z_][A-Za-z0-9_$ .()[\],]{0,95}$/;
const DATA_LIKE = /\d{5}|@/;

/**
 * The message as a template (`relation $1 does not exist`), or undefined when it is not a known PostgreSQL message
 * shape. Exported for tests and replays.
 */
export function messageTemplate(message: string): string | undefined {
  if (message.length > MAX_MESSAGE) return undefined;
  for (const shape of SHAPES) {
    const m = shape.regex.exec(message);
    if (m === null) continue;
    let out = shape.parts[0] ?? '';
    let n = 0;
    shape.holes.forEach((hole, i) => {
      const value = m[i + 1] ?? '';
      out += hole === 'k' && PLAIN.test(value) && !DATA_LIKE.test(value) ? value : `$${++n}`;
      out += shape.parts[i + 1] ?? '';
    });
    return out;
  }
  return undefined;
}

/**
 * Whether a record's message was written by user code rather than the server: PL/pgSQL `RAISE` and `ASSERT`
 * (their SQLSTATEs P0001 / P0004 by default, any SQLSTATE with `USING ERRCODE`, always with a context whose innermost
 * frame says `at RAISE` / `at ASSERT`) and the procedural languages' own logging.
 */
export function raisedByUser(r: LogRecord): boolean {
  if (r.sqlstate === 'P0001' || r.sqlstate === 'P0004') return true;
  const context = r.context;
  if (context === undefined) return false;
  const nl = context.indexOf('\n');
  const innermost = nl < 0 ? context : context.slice(0, nl);
  return (
    innermost.endsWith(' at RAISE') ||
    innermost.endsWith(' at ASSERT') ||
    /^PL\/(?:Perl|Python|Tcl|v8|R|Java)/i.test(innermost)
  );
}

/** What `session.error.message` carries for a record: a template, or the fixed text saying why nothing is. */
export function errorMessageOf(r: LogRecord): string {
  if (raisedByUser(r)) return MESSAGE_NOT_FORWARDED.user;
  return messageTemplate(r.message) ?? MESSAGE_NOT_FORWARDED.unknown;
}
