import type { SessionInfo } from '@vigie/contract';
import type { LogRecord } from './log-record.js';
import { cleanApplicationName } from './redact-text.js';
import type { SessionState } from './session-state.js';

/**
 * The session part of an event. One frozen object per session while its fields stay the same, shared by its events:
 * the outbox encodes it once (`stringifyEvent` in @vigie/collector-kit), a third of a statement event's JSON.
 */
export function sessionInfo(r: LogRecord, state: SessionState | undefined): SessionInfo {
  const clientAddr = r.remoteHost === '[local]' ? 'local' : r.remoteHost;
  const rawApp = r.applicationName ?? state?.applicationName;
  const last = state?.info;
  // The name as the client set it is cleaned once per change, not per event.
  const applicationName =
    last !== undefined && state?.infoRawApp === rawApp ? last.applicationName : cleanApplicationName(rawApp);
  if (
    last !== undefined &&
    last.id === r.sessionId &&
    last.pid === r.pid &&
    last.user === r.user &&
    last.database === r.database &&
    last.clientAddr === clientAddr &&
    last.clientPort === r.remotePort &&
    last.applicationName === applicationName &&
    last.backendType === r.backendType &&
    last.startedAt === r.sessionStart
  ) {
    return last;
  }
  // Fixed shape (see the event literal in statement-event.ts): undefined members are dropped by JSON.stringify.
  const info: SessionInfo = Object.freeze({
    id: r.sessionId,
    pid: r.pid,
    user: r.user,
    database: r.database,
    clientAddr,
    clientPort: r.remotePort,
    applicationName,
    backendType: r.backendType,
    startedAt: r.sessionStart,
  });
  if (state !== undefined) {
    state.info = info;
    state.infoRawApp = rawApp;
  }
  return info;
}

/**
 * The envelope every event of a log record shares: its deterministic id (`<cluster>:<session_id>:<line_num>`, what
 * makes restarts and replays safe), event time, session and position in the log.
 */
export function eventBase(
  cluster: string,
  r: LogRecord,
  state: SessionState | undefined,
  raw: { file: string; offset: number },
) {
  return {
    v: 1 as const,
    id: `${cluster}:${r.sessionId}:${r.lineNum}`,
    cluster,
    ts: r.ts,
    session: sessionInfo(r, state),
    source: { file: raw.file, offset: raw.offset },
  };
}
