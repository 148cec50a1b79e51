import { relationName, structField, type TreeObject } from './parse-tree.js';

/** What a COPY statement moves and where: `SqlAnalysis.copy`. */
export interface CopyInfo {
  direction: 'to' | 'from';
  target: 'stdout' | 'stdin' | 'file' | 'program';
  relation?: string;
  hasQuery: boolean;
}

/**
 * Describes a `CopyStmt` body. libpg-query leaves out `is_from` for COPY … TO and `filename` for STDIN/STDOUT, so
 * pg_dump's `COPY public.t (…) TO stdout;` and psql's `\copy` (`COPY  t TO STDOUT`) are both `to`/`stdout`; the
 * file name or program itself is a literal and stays out of the analysis.
 */
export function copyInfo(copy: TreeObject): CopyInfo {
  const from = copy['is_from'] === true;
  const target =
    copy['is_program'] === true ? 'program' : typeof copy['filename'] === 'string' ? 'file' : from ? 'stdin' : 'stdout';
  const relation = structField(copy, 'relation');
  const name = relation === undefined ? undefined : relationName(relation);
  const info: CopyInfo = { direction: from ? 'from' : 'to', target, hasQuery: copy['query'] !== undefined };
  if (name !== undefined) info.relation = name;
  return info;
}
