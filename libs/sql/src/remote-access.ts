import { collectObjects } from './collect-objects.js';
import { isTreeObject, listField, nodeOf, structField, unwrapNode, type TreeObject } from './parse-tree.js';

/** Hosts reached and relations read through strings, from the parse tree (see `SqlAnalysis.remoteHosts`). */
export interface RemoteAccess {
  remoteHosts: string[];
  hiddenReads: string[];
}

/** Parses SQL text held in a string (`query_to_xml('SELECT …')`); throws when it does not parse. */
export type ParseStatements = (sql: string) => readonly { stmt?: unknown }[];

/** A host name, IPv4 or IPv6 address (or a Unix socket directory): anything else is reported as `?`. */
const HOST = /^(?:[A-Za-z0-9][A-Za-z0-9.-]{0,252}|\[?[0-9A-Fa-f:.]{2,45}\]?|\/[\w./-]{0,200})$/;

const hostOf = (h: string): string => (HOST.test(h) ? h.replace(/^\[|\]$/g, '').toLowerCase() : '?');

/**
 * The hosts of a libpq connection string: `host=` / `hostaddr=` of a `key=value` string (values may be quoted and
 * list several hosts) or the authority of a `postgres[ql]://` URI. Only hosts: the string may hold a password.
 * A string that names no host (a named dblink connection, a foreign server name) gives none.
 */
export function connectionHosts(conninfo: string): string[] {
  const uri = /^postgres(?:ql)?:\/\/(?:[^@/?]*@)?([^/?]*)/i.exec(conninfo.trim());
  if (uri !== null) {
    return (uri[1] ?? '')
      .split(',')
      .map((h) => h.replace(/:\d*$/, ''))
      .filter((h) => h !== '')
      .map((h) => hostOf(decodeURIComponent(h)));
  }
  const out: string[] = [];
  const pair = /([A-Za-z_]+)\s*=\s*(?:'((?:[^'\\]|\\.)*)'|(\S*))/g;
  for (let m = pair.exec(conninfo); m !== null; m = pair.exec(conninfo)) {
    const key = m[1]?.toLowerCase();
    if (key !== 'host' && key !== 'hostaddr') continue;
    const value = m[2] === undefined ? (m[3] ?? '') : m[2].replace(/\\(.)/g, '$1');
    for (const h of value.split(',')) if (h !== '') out.push(hostOf(h));
  }
  return out;
}

/** The string of a constant argument (`'x'`, `'x'::regclass`), or undefined for anything computed. */
function constantString(arg: unknown): string | undefined {
  const cast = nodeOf(arg, 'TypeCast');
  const constant = nodeOf(cast === undefined ? arg : cast['arg'], 'A_Const');
  const sval = constant === undefined ? undefined : structField(constant, 'sval')?.['sval'];
  return typeof sval === 'string' ? sval : undefined;
}

/** `schema.table` as regclass text reads it (`"Odd".t`, `citizens`), lower-cased unless quoted; `?` otherwise. */
function regclassName(text: string): string {
  const part = /^\s*(?:"((?:[^"]|"")+)"|([A-Za-z_][\w$]*))\s*/;
  const parts: string[] = [];
  let rest = text;
  for (;;) {
    const m = part.exec(rest);
    if (m === null) return '?';
    parts.push(m[1] !== undefined ? m[1].replace(/""/g, '"') : (m[2] ?? '').toLowerCase());
    rest = rest.slice(m[0].length);
    if (rest === '') break;
    if (!rest.startsWith('.')) return '?';
    rest = rest.slice(1);
  }
  return parts.length <= 3 ? parts.join('.') : '?';
}

const QUERY_TO_XML = new Set(['query_to_xml', 'query_to_xmlschema', 'query_to_xml_and_xmlschema']);
const TABLE_TO_XML = new Set(['table_to_xml', 'table_to_xmlschema', 'table_to_xml_and_xmlschema']);
const SCHEMA_TO_XML = new Set(['schema_to_xml', 'schema_to_xmlschema', 'schema_to_xml_and_xmlschema']);
const DATABASE_TO_XML = new Set(['database_to_xml', 'database_to_xmlschema', 'database_to_xml_and_xmlschema']);

/** A query string inside a query string inside…: deeper than this is reported as `?`. */
const MAX_DEPTH = 3;

/**
 * Remote hosts and relations read through strings, anywhere in the statements: `dblink*()` connection strings,
 * `CREATE|ALTER SERVER … OPTIONS (host …)`, and `query_to_xml`-family (the query string is parsed in turn),
 * `table_to_xml` (the table name), `schema_to_xml` (`schema.*`), `database_to_xml` (`*`). An argument that is not a
 * constant gives `?`: something was read or reached, and what is unknown.
 */
export function remoteAccess(statements: readonly { stmt?: unknown }[], parse: ParseStatements): RemoteAccess {
  const hosts = new Set<string>();
  const reads = new Set<string>();

  const onCall = (call: TreeObject, depth: number): void => {
    const parts = listField(call, 'funcname').map((p) => nodeOf(p, 'String')?.['sval']);
    const name = parts.at(-1);
    if (typeof name !== 'string') return;
    const args = listField(call, 'args');
    if (name.startsWith('dblink')) {
      for (const a of args) {
        const s = constantString(a);
        if (s !== undefined) for (const h of connectionHosts(s)) hosts.add(h);
      }
      return;
    }
    const first = args[0] === undefined ? undefined : constantString(args[0]);
    if (QUERY_TO_XML.has(name)) {
      if (first === undefined || depth >= MAX_DEPTH) {
        reads.add('?');
        return;
      }
      let inner: readonly { stmt?: unknown }[];
      try {
        inner = parse(first);
      } catch {
        reads.add('?');
        return;
      }
      for (const r of collectObjects(inner).reads) reads.add(r);
      walk(inner, depth + 1);
    } else if (TABLE_TO_XML.has(name)) reads.add(first === undefined ? '?' : regclassName(first));
    else if (SCHEMA_TO_XML.has(name)) reads.add(first === undefined ? '?' : `${first}.*`);
    else if (DATABASE_TO_XML.has(name)) reads.add('*');
  };

  const serverOptions = (options: readonly unknown[]): void => {
    for (const o of options) {
      const def = nodeOf(o, 'DefElem');
      if (def === undefined || (def['defname'] !== 'host' && def['defname'] !== 'hostaddr')) continue;
      if (def['defaction'] === 'DEFELEM_DROP') continue;
      const value = nodeOf(def['arg'], 'String')?.['sval'];
      if (typeof value === 'string') for (const h of value.split(',')) if (h !== '') hosts.add(hostOf(h));
    }
  };

  const walk = (value: unknown, depth: number): void => {
    if (Array.isArray(value)) {
      for (const v of value) walk(v, depth);
      return;
    }
    const node = unwrapNode(value);
    if (node !== undefined) {
      const [type, body] = node;
      if (type === 'FuncCall') onCall(body, depth);
      else if (type === 'CreateForeignServerStmt' || type === 'AlterForeignServerStmt') {
        serverOptions(listField(body, 'options'));
      }
    }
    const body = node?.[1] ?? (isTreeObject(value) ? value : undefined);
    if (body === undefined) return;
    for (const key in body) {
      const v = body[key];
      if (typeof v === 'object' && v !== null) walk(v, depth);
    }
  };
  for (const { stmt } of statements) walk(stmt, 0);
  return { remoteHosts: [...hosts], hiddenReads: [...reads] };
}
