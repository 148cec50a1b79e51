import { nodeOf, structField, unwrapNode, type TreeObject } from './parse-tree.js';

/** Whether the top-level query of a statement is restricted by a WHERE clause and by a LIMIT / FETCH FIRST. */
export interface QueryBounds {
  hasWhere: boolean;
  hasLimit: boolean;
}

const UNBOUNDED: QueryBounds = { hasWhere: false, hasLimit: false };

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
      case 'SelectStmt':
        return { hasWhere: selectHasWhere(body), hasLimit: selectHasLimit(body) };
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
