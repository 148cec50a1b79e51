/**
 * Helpers for libpg-query's JSON parse tree. A node is wrapped as `{ "SelectStmt": { … } }` when a field may hold
 * several node types, and bare (`{ "relname": … }`) when the field has one fixed type (`InsertStmt.relation`,
 * `SelectStmt.larg`): the walkers handle both.
 */

/** A parse-tree object: a node body or a bare struct. */
export type TreeObject = Readonly<Record<string, unknown>>;

/** Whether a value is a parse-tree object (not an array, string, number or boolean). */
export function isTreeObject(value: unknown): value is TreeObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The type name and body of a wrapped node (`{ "RangeVar": { … } }`), or undefined for anything else. */
export function unwrapNode(value: unknown): [type: string, body: TreeObject] | undefined {
  if (!isTreeObject(value)) return undefined;
  for (const key in value) {
    // Wrapped nodes have exactly one key, the node type, which starts with an upper-case letter.
    const code = key.charCodeAt(0);
    const body = value[key];
    if (code >= 0x41 && code <= 0x5a && isTreeObject(body)) return [key, body];
    return undefined;
  }
  return undefined;
}

/** The body of a wrapped node of one type (`nodeOf(x, 'SelectStmt')`), or undefined. */
export function nodeOf(value: unknown, type: string): TreeObject | undefined {
  const node = unwrapNode(value);
  return node !== undefined && node[0] === type ? node[1] : undefined;
}

/** A field that holds a bare struct, or undefined. */
export function structField(body: TreeObject, field: string): TreeObject | undefined {
  const value = body[field];
  return isTreeObject(value) ? value : undefined;
}

/** A field that holds a list, or an empty list. */
export function listField(body: TreeObject, field: string): readonly unknown[] {
  const value = body[field];
  return Array.isArray(value) ? value : [];
}

/** A relation name as written (`catalog.schema.rel`, `schema.rel` or `rel`), lower-cased. */
export function relationName(rangeVar: TreeObject): string | undefined {
  const rel = rangeVar['relname'];
  if (typeof rel !== 'string') return undefined;
  const schema = rangeVar['schemaname'];
  const catalog = rangeVar['catalogname'];
  let name = rel;
  if (typeof schema === 'string' && schema !== '') name = `${schema}.${name}`;
  if (typeof catalog === 'string' && catalog !== '') name = `${catalog}.${name}`;
  return name.toLowerCase();
}

/** A node's `location` (offset in the statement text), or a large number when it has none. */
export function locationOf(body: TreeObject): number {
  const at = body['location'];
  return typeof at === 'number' && at >= 0 ? at : Number.MAX_SAFE_INTEGER;
}
