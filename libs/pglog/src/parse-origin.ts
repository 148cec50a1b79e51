import type { ForgeryReason } from '@vigie/contract';
import type { LogRecord } from './log-record.js';

/** What a record claims to be, read from its message's fixed prefix. */
export type RecordClaim =
  'audit' | 'connection' | 'disconnection' | 'replication-connection' | 'replication-command' | 'logged-statement';

/** The message prefix of each claim (English server messages, `lc_messages = 'C'`). */
const PREFIXES: readonly (readonly [string, RecordClaim])[] = [
  ['AUDIT: ', 'audit'],
  ['connection authorized: ', 'connection'],
  ['disconnection: ', 'disconnection'],
  ['replication connection authorized: ', 'replication-connection'],
  ['received replication command: ', 'replication-command'],
  // log_statement lines: what the audit-tampering rule reads for the SETs pgaudit cannot log.
  ['statement: ', 'logged-statement'],
  ['execute ', 'logged-statement'],
];

const REPLICATION_COMMAND = 'received replication command: ';
const NONE: readonly ForgeryReason[] = Object.freeze([]);

/** The claim of a message, or undefined for every other message (most records: first-letter test first). */
export function claimOf(message: string): RecordClaim | undefined {
  const c = message.charCodeAt(0);
  // A, c, d, r, s, e
  if (c !== 65 && c !== 99 && c !== 100 && c !== 114 && c !== 115 && c !== 101) return undefined;
  for (const [prefix, claim] of PREFIXES) if (message.startsWith(prefix)) return claim;
  return undefined;
}

/**
 * Why a record that claims to be a pgaudit or connection-lifecycle record cannot be one; empty when it has exactly
 * the shape PostgreSQL gives those records. Checked on the real server (PostgreSQL 15, pgaudit 1.7, jsonlog and
 * csvlog alike):
 *
 * - pgaudit writes its records with `errhidestmt` and `errhidecontext`: no `statement`, no `context`; the lifecycle
 *   messages are written outside any statement. Any role's `RAISE LOG|WARNING` from a `DO` block or a function
 *   carries `context: PL/pgSQL function … at RAISE` (and, at LOG, the `statement` that raised it). An ordinary role
 *   cannot drop either (`log_error_verbosity` and `log_min_error_statement` are superuser settings), and even
 *   `log_error_verbosity = terse` keeps `context` in jsonlog and csvlog.
 * - Their severity is LOG with SQLSTATE 00000 (`RAISE WARNING` gives 01000).
 * - `connection authorized` is written while the backend's command tag is `authentication`, by a client backend
 *   (a walsender for `replication connection authorized`), and names the record's own user and database; a
 *   disconnection names the record's own user, database, host and port; a walsender's `received replication
 *   command: X` carries X as its statement, and nothing else does.
 */
export function forgeryReasons(r: LogRecord, claim: RecordClaim): readonly ForgeryReason[] {
  // The common case (a genuine pgaudit record) allocates nothing: 400k arrays per 500k records showed in GC time.
  if (
    (claim === 'audit' || claim === 'logged-statement') &&
    r.context === undefined &&
    r.statement === undefined &&
    r.internalQuery === undefined &&
    r.severity === 'LOG' &&
    (r.sqlstate === undefined || r.sqlstate === '00000')
  ) {
    return NONE;
  }
  const reasons: ForgeryReason[] = [];
  if (r.context !== undefined) reasons.push('context');
  // A walsender logs the replication command it received as the record's statement too: that one is expected.
  const ownStatement = claim === 'replication-command' && r.statement === r.message.slice(REPLICATION_COMMAND.length);
  if (r.statement !== undefined && !ownStatement) reasons.push('statement');
  if (r.internalQuery !== undefined) reasons.push('internal_query');
  if (r.severity !== 'LOG' || (r.sqlstate !== undefined && r.sqlstate !== '00000')) reasons.push('severity');
  // A log_statement line is written like a pgaudit record: outside any PL/pgSQL context, statement hidden.
  if (claim === 'audit' || claim === 'logged-statement') return reasons;
  const backend = r.backendType;
  const msg = r.message;
  let origin = true;
  let matches = true;
  switch (claim) {
    case 'connection':
      origin = r.commandTag === 'authentication' && backend === 'client backend';
      matches = msg.startsWith(`connection authorized: user=${r.user ?? ''} database=${r.database ?? ''}`);
      break;
    case 'replication-connection':
      origin = r.commandTag === 'authentication' && backend === 'walsender';
      matches = msg.startsWith(`replication connection authorized: user=${r.user ?? ''}`);
      break;
    case 'disconnection': {
      origin = backend === 'client backend' || backend === 'walsender';
      const host = r.remoteHost ?? '';
      const where = r.remotePort === undefined ? ` host=${host}` : ` host=${host} port=${r.remotePort}`;
      // A walsender without a database prints `database= host=…`.
      matches = msg.endsWith(` user=${r.user ?? ''} database=${r.database ?? ''}${where}`);
      break;
    }
    case 'replication-command':
      origin = backend === 'walsender';
      break;
  }
  if (!origin) reasons.push('origin');
  if (!matches) reasons.push('mismatch');
  return reasons;
}
