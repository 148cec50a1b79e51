import {
  isTreeObject,
  listField,
  locationOf,
  nodeOf,
  relationName,
  structField,
  unwrapNode,
  type TreeObject,
} from './parse-tree.js';

/** Relations read and written and functions called by one or more parsed statements, in text order. */
export interface StatementObjects {
  reads: string[];
  writes: string[];
  functions: string[];
}

/** CTE names visible at a point of the tree: an unqualified relation with one of these names is not a table. */
type CteScope = readonly string[];

/** Collects names with the offset where each first appears, then lists them in text order. */
class NameSet {
  private readonly first = new Map<string, number>();

  add(name: string | undefined, at: number): void {
    if (name === undefined) return;
    const seen = this.first.get(name);
    if (seen === undefined || at < seen) this.first.set(name, at);
  }

  list(): string[] {
    // Array.prototype.sort is stable: names without a location keep their discovery order.
    return [...this.first].sort((a, b) => a[1] - b[1]).map(([name]) => name);
  }
}

// Fields a query walker handles itself (or must not treat as reads, like `FOR UPDATE OF alias`).
const SELECT_OWN_FIELDS = new Set(['withClause', 'intoClause', 'lockingClause', 'larg', 'rarg']);
const DML_OWN_FIELDS = new Set(['withClause', 'relation']);

/**
 * Walks a parse tree. Relations count as reads only inside a query (SELECT, INSERT, UPDATE, DELETE, MERGE, wherever
 * they are nested: EXPLAIN, PREPARE, DECLARE, CREATE VIEW, COPY (query), CTEs, subqueries), so DDL targets,
 * `GRANT … ON t` and `LOCK TABLE t` are neither read nor written. Writes are DML targets, `COPY … FROM`,
 * `TRUNCATE`, `SELECT INTO`, `CREATE TABLE AS` and `REFRESH MATERIALIZED VIEW`.
 */
class ObjectWalker {
  readonly reads = new NameSet();
  readonly writes = new NameSet();
  readonly functions = new NameSet();

  walk(value: unknown, scope: CteScope, inQuery: boolean): void {
    if (Array.isArray(value)) {
      for (const item of value) this.walk(item, scope, inQuery);
      return;
    }
    const node = unwrapNode(value);
    if (node !== undefined) this.visit(node[0], node[1], scope, inQuery);
    else if (isTreeObject(value)) this.walkFields(value, scope, inQuery);
  }

  private walkFields(body: TreeObject, scope: CteScope, inQuery: boolean, skip?: ReadonlySet<string>): void {
    for (const key in body) {
      if (skip?.has(key) === true) continue;
      const value = body[key];
      if (typeof value === 'object' && value !== null) this.walk(value, scope, inQuery);
    }
  }

  private visit(type: string, body: TreeObject, scope: CteScope, inQuery: boolean): void {
    switch (type) {
      case 'RangeVar':
        if (inQuery) this.read(body, scope);
        return;
      case 'SelectStmt':
        this.visitSelect(body, scope);
        return;
      case 'InsertStmt':
      case 'UpdateStmt':
      case 'DeleteStmt':
      case 'MergeStmt':
        this.visitModify(body, scope);
        return;
      case 'FuncCall':
        this.functions.add(functionName(body), locationOf(body));
        this.walkFields(body, scope, inQuery);
        return;
      case 'CopyStmt': {
        const relation = structField(body, 'relation');
        if (relation !== undefined) {
          (body['is_from'] === true ? this.writes : this.reads).add(relationName(relation), locationOf(relation));
        }
        this.walk(body['query'], scope, true);
        this.walk(body['whereClause'], scope, true);
        return;
      }
      case 'TruncateStmt':
        for (const item of listField(body, 'relations')) this.write(nodeOf(item, 'RangeVar'));
        return;
      case 'CreateTableAsStmt': {
        const into = structField(body, 'into');
        this.write(into === undefined ? undefined : structField(into, 'rel'));
        this.walk(body['query'], scope, true);
        return;
      }
      case 'CallStmt': {
        // The one place a FuncCall is stored bare rather than wrapped.
        const call = structField(body, 'funccall');
        if (call !== undefined) this.visit('FuncCall', call, scope, inQuery);
        return;
      }
      case 'RefreshMatViewStmt':
        this.write(structField(body, 'relation'));
        return;
      case 'LockStmt':
        // Locking is not reading: pg_dump locks every table it will copy, the COPY is the read.
        return;
      default:
        this.walkFields(body, scope, inQuery);
    }
  }

  private read(rangeVar: TreeObject, scope: CteScope): void {
    const name = relationName(rangeVar);
    if (name === undefined) return;
    if (rangeVar['schemaname'] === undefined && scope.includes(name)) return;
    this.reads.add(name, locationOf(rangeVar));
  }

  private write(rangeVar: TreeObject | undefined): void {
    if (rangeVar !== undefined) this.writes.add(relationName(rangeVar), locationOf(rangeVar));
  }

  /**
   * CTE names are in scope for the query body; for the CTEs themselves only the earlier ones are, unless the WITH
   * is RECURSIVE (`WITH citizens AS (SELECT * FROM citizens)` reads the real table).
   */
  private visitWith(withClause: TreeObject | undefined, scope: CteScope): CteScope {
    if (withClause === undefined) return scope;
    const ctes = listField(withClause, 'ctes').map((item) => nodeOf(item, 'CommonTableExpr'));
    const names = ctes.map((cte) => {
      const name = cte?.['ctename'];
      return typeof name === 'string' ? name.toLowerCase() : '';
    });
    const recursive = withClause['recursive'] === true;
    ctes.forEach((cte, i) => {
      if (cte === undefined) return;
      const visible = recursive ? names : names.slice(0, i);
      this.walk(cte['ctequery'], [...scope, ...visible], true);
    });
    return [...scope, ...names];
  }

  private visitSelect(select: TreeObject, outer: CteScope): void {
    const scope = this.visitWith(structField(select, 'withClause'), outer);
    const into = structField(select, 'intoClause');
    if (into !== undefined) this.write(structField(into, 'rel'));
    for (const arm of ['larg', 'rarg']) {
      const sub = structField(select, arm);
      if (sub !== undefined) this.visitSelect(sub, scope);
    }
    this.walkFields(select, scope, true, SELECT_OWN_FIELDS);
  }

  private visitModify(statement: TreeObject, outer: CteScope): void {
    const scope = this.visitWith(structField(statement, 'withClause'), outer);
    this.write(structField(statement, 'relation'));
    this.walkFields(statement, scope, true, DML_OWN_FIELDS);
  }
}

/**
 * A function's name as written, lower-cased. Functions PostgreSQL's grammar calls for SQL syntax (`EXTRACT`,
 * `AT TIME ZONE`, `SUBSTRING … FROM`) lose the `pg_catalog.` the grammar added, since nobody wrote it.
 */
function functionName(call: TreeObject): string | undefined {
  const parts = listField(call, 'funcname').map((part) => {
    const sval = nodeOf(part, 'String')?.['sval'];
    return typeof sval === 'string' ? sval.toLowerCase() : '';
  });
  if (parts.length === 0) return undefined;
  if (call['funcformat'] === 'COERCE_SQL_SYNTAX' && parts.length === 2 && parts[0] === 'pg_catalog') parts.shift();
  return parts.join('.');
}

/** Relations read and written and functions called anywhere in the given parsed statements, deduplicated. */
export function collectObjects(statements: readonly unknown[]): StatementObjects {
  const walker = new ObjectWalker();
  walker.walk(statements, [], false);
  return { reads: walker.reads.list(), writes: walker.writes.list(), functions: walker.functions.list() };
}
