import type { LogRecord } from './log-record.js';

/** Facts read from the server's connection-lifecycle messages (log_connections / log_disconnections). */
export type SessionMessage =
  | { type: 'received' }
  | { type: 'authorized'; applicationName?: string; ssl?: string }
  | { type: 'replication-authorized'; applicationName?: string; ssl?: string }
  | { type: 'disconnection'; durationMs: number }
  | { type: 'replication-command'; command: string; text: string };

const APP = / application_name=(.*?)(?: SSL enabled| GSS| $|$)/;
const SSL = / SSL enabled \((.*)\)/;
const DURATION = /^disconnection: session time: (\d+):(\d{2}):(\d{2})\.(\d{3})/;

/**
 * Recognises a lifecycle message by its fixed English prefix (lc_messages must stay `C`/English, as the README
 * says: translated servers print other words). Returns undefined for every other message.
 */
export function parseSessionMessage(message: string): SessionMessage | undefined {
  const c = message.charCodeAt(0);
  // Cheap first-letter test: most records are AUDIT lines and must not pay for the prefix checks below.
  if (c !== 99 && c !== 114 && c !== 100) return undefined;
  if (message.startsWith('connection received:')) return { type: 'received' };
  if (message.startsWith('connection authorized:') || message.startsWith('replication connection authorized:')) {
    const out: { applicationName?: string; ssl?: string } = {};
    const app = APP.exec(message)?.[1];
    if (app !== undefined && app !== '') out.applicationName = app;
    const ssl = SSL.exec(message)?.[1];
    if (ssl !== undefined) out.ssl = ssl;
    return { type: message.startsWith('r') ? 'replication-authorized' : 'authorized', ...out };
  }
  if (message.startsWith('disconnection:')) {
    const m = DURATION.exec(message);
    if (!m) return undefined;
    const durationMs = ((Number(m[1]) * 60 + Number(m[2])) * 60 + Number(m[3])) * 1000 + Number(m[4]);
    return { type: 'disconnection', durationMs };
  }
  if (message.startsWith('received replication command: ')) {
    const text = message.slice('received replication command: '.length);
    const command = (/^[A-Za-z_]+/.exec(text)?.[0] ?? 'UNKNOWN').toUpperCase();
    return { type: 'replication-command', command, text };
  }
  return undefined;
}

/**
 * Whether a failed login named a role that does not exist: FATAL 28000 `role "x" does not exist` (trust, peer…),
 * or 28P01 `password authentication failed for user "x"` whose DETAIL says `Role "x" does not exist.` (the server
 * does not tell the client, but logs it). Checked on the real server (PostgreSQL 15, scram-sha-256).
 */
export function roleDoesNotExist(r: Pick<LogRecord, 'message' | 'detail'>): boolean {
  return /^role ".*" does not exist/s.test(r.message) || /^Role ".*" does not exist\./s.test(r.detail ?? '');
}

/** Short, literal-free reason of an authentication failure (the message names the user; the event has it apart). */
export function authFailureReason(message: string): string | undefined {
  if (message.startsWith('password authentication failed')) return 'password authentication failed';
  if (message.startsWith('no pg_hba.conf entry')) return 'no pg_hba.conf entry';
  if (message.startsWith('pg_hba.conf rejects connection')) return 'pg_hba.conf rejects connection';
  if (/^role ".*" does not exist/.test(message)) return 'role does not exist';
  if (/^role ".*" is not permitted to log in/.test(message)) return 'role is not permitted to log in';
  if (message.startsWith('Ident authentication failed')) return 'ident authentication failed';
  if (message.startsWith('Peer authentication failed')) return 'peer authentication failed';
  if (message.startsWith('certificate authentication failed')) return 'certificate authentication failed';
  return undefined;
}
