import type { Alert, VigieEvent } from '@vigie/contract';

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
