import { listField, nodeOf, structField, unwrapNode, type TreeObject } from './parse-tree.js';

/** Whether the top-level query of a statement is restricted by a WHERE clause and by a LIMIT / FETCH FIRST. */
export interface QueryBounds {
  hasWhere: boolean;
  hasLimit: boolean;
  /** The query reads one page of an ordered walk (see `SqlAnalysis.paging`). */
  paging?: 'offset' | 'keyset';
  /** The query returns only counts (`SELECT count(*) FROM t`), no column of any row. */
  countOnly?: boolean;
}

const UNBOUNDED: QueryBounds = { hasWhere: false, hasLimit: false };

/** Last name of a column reference (`t.id` → `id`). */
function columnName(value: unknown): string | undefined {
  const ref = nodeOf(value, 'ColumnRef');
  const last = ref === undefined ? undefined : listField(ref, 'fields').at(-1);
  const name = nodeOf(last, 'String')?.['sval'];
  return typeof name === 'string' ? name : undefined;
}

const RANGE_OPERATORS = new Set(['>', '>=', '<', '<=']);

/** `col > x` (or `x < col`…) on the column the query is ordered by, at the top of WHERE or inside its AND. */
function rangeOnColumn(where: unknown, column: string): boolean {
  const and = nodeOf(where, 'BoolExpr');
  if (and !== undefined)
    return and['boolop'] === 'AND_EXPR' && listField(and, 'args').some((a) => rangeOnColumn(a, column));
  const expr = nodeOf(where, 'A_Expr');
  if (expr === undefined || expr['kind'] !== 'AEXPR_OP') return false;
  const op = nodeOf(listField(expr, 'name').at(-1), 'String')?.['sval'];
  if (typeof op !== 'string' || !RANGE_OPERATORS.has(op)) return false;
  return columnName(expr['lexpr']) === column || columnName(expr['rexpr']) === column;
}

/**
 * Paging of a plain SELECT with a LIMIT: `OFFSET n` (`offset`), or a range condition on the first ORDER BY column
 * (`WHERE id > $1 ORDER BY id LIMIT n`, `keyset`).
 */
function selectPaging(select: TreeObject): QueryBounds['paging'] {
  if (isSetOperation(select) || !selectHasLimit(select)) return undefined;
  const offset = select['limitOffset'];
  if (offset !== undefined && nodeOf(offset, 'A_Const')?.['isnull'] !== true) return 'offset';
  const first = nodeOf(listField(select, 'sortClause')[0], 'SortBy');
  const column = first === undefined ? undefined : columnName(first['node']);
  if (column !== undefined && select['whereClause'] !== undefined && rangeOnColumn(select['whereClause'], column)) {
    return 'keyset';
  }
  return undefined;
}

/** Every output column is a `count(…)` and nothing is grouped: one row of numbers, whatever the table holds. */
function selectCountOnly(select: TreeObject): boolean {
  if (isSetOperation(select) || select['groupClause'] !== undefined) return false;
  const targets = listField(select, 'targetList');
  return (
    targets.length > 0 &&
    targets.every((t) => {
      const call = nodeOf(nodeOf(t, 'ResTarget')?.['val'], 'FuncCall');
      const name = call === undefined ? undefined : nodeOf(listField(call, 'funcname').at(-1), 'String')?.['sval'];
      return name === 'count' && call?.['over'] === undefined;
    })
  );
}

// Statements that wrap the query that actually runs (or will): look through them.
const QUERY_FIELD: Readonly<Record<string, string>> = {
  ExplainStmt: 'query',
  PrepareStmt: 'query',
  DeclareCursorStmt: 'query',
  CreateTableAsStmt: 'query',
  CopyStmt: 'query',
  InsertStmt: 'selectStmt',
};

function isSetOperation(select: TreeObject): boolean {
  const op = select['op'];
  return op !== undefined && op !== 'SETOP_NONE';
}

/** A UNION/INTERSECT/EXCEPT has a WHERE only when every arm has one. */
function selectHasWhere(select: TreeObject): boolean {
  if (!isSetOperation(select)) return select['whereClause'] !== undefined;
  const larg = structField(select, 'larg');
  const rarg = structField(select, 'rarg');
  return larg !== undefined && rarg !== undefined && selectHasWhere(larg) && selectHasWhere(rarg);
}

/** `LIMIT ALL` and `LIMIT NULL` parse as a null constant and limit nothing. A set operation is limited as a whole or
 * when every arm is. */
function selectHasLimit(select: TreeObject): boolean {
  const count = select['limitCount'];
  if (count !== undefined && nodeOf(count, 'A_Const')?.['isnull'] !== true) return true;
  if (!isSetOperation(select)) return false;
  const larg = structField(select, 'larg');
  const rarg = structField(select, 'rarg');
  return larg !== undefined && rarg !== undefined && selectHasLimit(larg) && selectHasLimit(rarg);
}

/**
 * WHERE / LIMIT of the query a statement runs: the statement itself for SELECT, UPDATE and DELETE; the inner query
 * for EXPLAIN, PREPARE, DECLARE CURSOR, CREATE TABLE AS, `COPY (query)` and `INSERT … SELECT`. Everything else
 * (`COPY t TO`, MERGE, utility statements) is unbounded.
 */
export function queryBounds(statement: unknown): QueryBounds {
  let node = unwrapNode(statement);
  // Wrappers nest (EXPLAIN CREATE TABLE … AS SELECT); the depth bound only guards against a malformed tree.
  for (let depth = 0; node !== undefined && depth < 8; depth++) {
    const [type, body] = node;
    switch (type) {
      case 'SelectStmt': {
        const paging = selectPaging(body);
        return {
          hasWhere: selectHasWhere(body),
          hasLimit: selectHasLimit(body),
          ...(paging !== undefined && { paging }),
          ...(selectCountOnly(body) && { countOnly: true }),
        };
      }
      case 'UpdateStmt':
      case 'DeleteStmt':
        return { hasWhere: body['whereClause'] !== undefined, hasLimit: false };
    }
    const field = Object.hasOwn(QUERY_FIELD, type) ? QUERY_FIELD[type] : undefined;
    if (field === undefined) return UNBOUNDED;
    node = unwrapNode(body[field]);
  }
  return UNBOUNDED;
}
