import type { Alert, SqlAnalysis, VigieEvent } from '@vigie/contract';

/** A valid alert for tests of the sinks and the API; override what the test is about. */
export function sampleAlert(overrides: Partial<Alert> = {}): Alert {
  return {
    v: 1,
    id: 'dump:local:6b07e26d.1a57',
    rule: 'dump',
    severity: 'critical',
    status: 'firing',
    title: 'Database dump',
    summary: 'pg_dump of app (2 tables, 1200 rows) by dba_alice from 127.0.0.3 (not the bastion) at 02:14 Europe/Paris',
    cluster: 'local',
    database: 'app',
    sessionId: '6b07e26d.1a57',
    who: { login: 'dba_alice' },
    where: { clientAddr: '127.0.0.3', clientClass: 'non-bastion', applicationName: 'pg_dump' },
    what: { tables: ['public.citizens', 'social.payments'], rows: 1200 },
    evidence: { eventIds: ['local:6b07e26d.1a57:12'], statements: ['COPY public.citizens (id, nir) TO stdout;'] },
    tags: ['T1213'],
    firstSeen: '2026-11-26T01:14:00.000Z',
    lastSeen: '2026-11-26T01:14:05.000Z',
    revision: 1,
    ...overrides,
  };
}

/** A statement event as collector-pglog would produce it. */
export function sampleStatement(
  sessionId: string,
  line: number,
  sql: string,
  overrides: { user?: string; clientAddr?: string; ts?: string; cluster?: string; applicationName?: string } = {},
): VigieEvent {
  const cluster = overrides.cluster ?? 'local';
  return {
    v: 1,
    id: `${cluster}:${sessionId}:${line}`,
    kind: 'statement',
    cluster,
    ts: overrides.ts ?? new Date().toISOString(),
    session: {
      id: sessionId,
      pid: Number.parseInt(sessionId.split('.')[1] ?? '1', 16),
      user: overrides.user ?? 'dba_alice',
      database: 'app',
      clientAddr: overrides.clientAddr ?? '127.0.0.3',
      applicationName: overrides.applicationName ?? 'psql',
    },
    audit: {
      auditTypes: ['SESSION'],
      statementId: line,
      substatementId: 1,
      class: 'READ',
      command: 'SELECT',
      objects: [],
      parameterCount: 0,
    },
    sql: {
      kind: 'select',
      reads: [],
      writes: [],
      hasWhere: false,
      hasLimit: false,
      functions: [],
      dangerousFunctions: [],
      redacted: sql,
    },
  };
}

/** What {@link pgDumpSession} needs to analyse statements like collector-pglog does (libs/sql's analyzer). */
export interface StatementAnalyzer {
  analyze(sql: string): SqlAnalysis;
}

/** Options of {@link pgDumpSession}. */
export interface DumpSessionOptions {
  cluster: string;
  sessionId: string;
  user?: string;
  clientAddr?: string;
  applicationName?: string;
  tables?: readonly string[];
  /** Event time of the first event, ms; each next event is 1 ms later. */
  startMs?: number;
}

/**
 * The events collector-pglog produces for a real `pg_dump` session (FIELD-NOTES): connection, the SET sequence,
 * BEGIN, the REPEATABLE READ READ ONLY snapshot, LOCK TABLE … IN ACCESS SHARE MODE per table, then COPY … TO
 * stdout per table (pgaudit 1.7 logs COPY with 0 rows). Statement analysis comes from the real analyzer.
 */
export function pgDumpSession(analyzer: StatementAnalyzer, o: DumpSessionOptions): VigieEvent[] {
  const tables = o.tables ?? ['public.citizens', 'social.benefit_claims', 'social.payments'];
  const start = o.startMs ?? Date.now();
  const session = {
    id: o.sessionId,
    pid: Number.parseInt(o.sessionId.split('.')[1] ?? '1', 16),
    user: o.user ?? 'dba_alice',
    database: 'app',
    clientAddr: o.clientAddr ?? '127.0.0.3',
    clientPort: 41234,
    applicationName: o.applicationName ?? 'pg_dump',
    backendType: 'client backend',
    startedAt: new Date(start).toISOString(),
  };
  let line = 0;
  const base = () => {
    line += 1;
    return {
      v: 1 as const,
      id: `${o.cluster}:${o.sessionId}:${line}`,
      cluster: o.cluster,
      ts: new Date(start + line).toISOString(),
      session,
    };
  };
  const stmt = (sql: string, cls: 'READ' | 'MISC', command: string, objects: string[] = []): VigieEvent => ({
    ...base(),
    kind: 'statement',
    audit: {
      auditTypes: ['SESSION'],
      statementId: line,
      substatementId: 1,
      class: cls,
      command,
      objects: objects.map((name) => ({ type: 'TABLE', name })),
      parameterCount: 0,
      ...(command === 'COPY' ? { rows: 0 } : {}),
    },
    sql: analyzer.analyze(sql),
  });
  const events: VigieEvent[] = [{ ...base(), kind: 'session.start' }];
  events.push(stmt('SET extra_float_digits TO 3', 'MISC', 'SET'));
  events.push(stmt('SET synchronize_seqscans TO off', 'MISC', 'SET'));
  events.push(stmt('SET row_security = off', 'MISC', 'SET'));
  events.push(stmt('BEGIN', 'MISC', 'BEGIN'));
  events.push(stmt('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY', 'MISC', 'SET'));
  for (const t of tables) events.push(stmt(`LOCK TABLE ${t} IN ACCESS SHARE MODE`, 'MISC', 'LOCK TABLE'));
  for (const t of tables) events.push(stmt(`COPY ${t} (id, nir, name, email) TO stdout;`, 'READ', 'COPY'));
  return events;
}
