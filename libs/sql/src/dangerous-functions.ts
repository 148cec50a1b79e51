/**
 * Functions that read or write server files, large objects or remote servers: what an operator uses to take data
 * out of the server by a path other than the result set. Matched on the unqualified name, so `pg_catalog.lo_export`
 * counts too. `pg_export_snapshot()` is not here: it is part of every parallel pg_dump, a dump signal rather than a
 * data path.
 */
const DANGEROUS = new Set([
  // Server files (pg_read_server_files / superuser).
  'pg_read_file',
  'pg_read_binary_file',
  'pg_stat_file',
  'pg_ls_dir',
  'pg_ls_logdir',
  'pg_ls_waldir',
  'pg_ls_tmpdir',
  'pg_ls_archive_statusdir',
  // adminpack (server file writes).
  'pg_file_write',
  'pg_file_rename',
  'pg_file_unlink',
  'pg_file_sync',
  'pg_logdir_ls',
  // Large objects: lo_import/lo_export touch server files; the rest move data in and out of large objects.
  'lo_import',
  'lo_export',
  'lo_get',
  'lo_put',
  'lo_from_bytea',
  'loread',
  'lowrite',
]);

/** Whether a function name (as in `SqlAnalysis.functions`) is dangerous: the list above, or any `dblink*`. */
export function isDangerousFunction(name: string): boolean {
  const dot = name.lastIndexOf('.');
  const base = dot < 0 ? name : name.slice(dot + 1);
  return DANGEROUS.has(base) || base.startsWith('dblink');
}
