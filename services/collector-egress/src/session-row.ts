import { sessionIdOf, type SessionInfo } from '@vigie/contract';

/** One `pg_stat_activity` row, as the activity source reads it. */
export interface ActivityRow {
  pid: number;
  /** `backend_start` as epoch seconds with fractions. */
  backendStartEpoch: number;
  user: string | null;
  database: string | null;
  /** `host(client_addr)`: null for a Unix socket or a background process. */
  clientAddr: string | null;
  /** -1 for a Unix socket, null for a background process. */
  clientPort: number | null;
  applicationName: string | null;
  backendType: string | null;
  /** The collector's own session (the one that read the snapshot). */
  self?: boolean;
}

/** The contract's session description of a pg_stat_activity row; its id is the one the server log prints. */
export function sessionOfRow(row: ActivityRow): SessionInfo {
  const info: SessionInfo = {
    id: sessionIdOf(row.backendStartEpoch, row.pid),
    pid: row.pid,
    startedAt: new Date(Math.floor(row.backendStartEpoch * 1000)).toISOString(),
  };
  if (row.user) info.user = row.user;
  if (row.database) info.database = row.database;
  if (row.clientAddr) info.clientAddr = row.clientAddr;
  else if (row.clientPort === -1) info.clientAddr = 'local';
  if (row.clientPort !== null && row.clientPort >= 0) info.clientPort = row.clientPort;
  if (row.applicationName) info.applicationName = row.applicationName;
  if (row.backendType) info.backendType = row.backendType;
  return info;
}

/** A client session over a Unix socket: no TCP counters exist for it. */
export function isUnixSession(row: ActivityRow): boolean {
  return row.clientPort === -1;
}
