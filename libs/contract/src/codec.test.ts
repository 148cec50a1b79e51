import { describe, expect, it } from 'vitest';
import { decodeAlert, decodeDeadLetter, decodeEvent, encodeAlert, encodeDeadLetter, encodeEvent } from './codec.js';
import { sessionIdOf } from './common.js';
import type { EventKind, VigieEvent } from './events.js';
import type { Alert } from './alert.js';
import type { DeadLetter } from './deadletter.js';
import { EVENT_STREAMS, TOPICS, sessionKey, topicOf } from './topics.js';

const session = {
  id: '6b07e274.1be5',
  pid: 7141,
  user: 'dba_alice',
  database: 'app',
  clientAddr: '127.0.0.3',
  clientPort: 35598,
  applicationName: 'pg_dump',
  backendType: 'client backend',
  startedAt: '2026-11-26T07:40:36.000Z',
};
const base = { v: 1 as const, cluster: 'local', ts: '2026-11-26T07:40:36.210Z', session };

/** One realistic example of every kind; the `satisfies` keeps this list complete when a kind is added. */
const examples = {
  'session.start': { ...base, id: 'local:6b07e274.1be5:3', kind: 'session.start', ssl: 'protocol=TLSv1.3' },
  'session.end': { ...base, id: 'local:6b07e274.1be5:9', kind: 'session.end', durationMs: 5023 },
  'auth.failure': {
    ...base,
    id: 'local:6b07e274.1be6:2',
    kind: 'auth.failure',
    user: 'contractor_bob',
    sqlstate: '28P01',
    reason: 'password authentication failed',
  },
  'replication.connection': { ...base, id: 'local:6b07e274.1be7:3', kind: 'replication.connection' },
  'replication.command': {
    ...base,
    id: 'local:6b07e274.1be7:4',
    kind: 'replication.command',
    command: 'BASE_BACKUP',
    text: 'BASE_BACKUP ( LABEL $1, PROGRESS)',
  },
  'session.error': {
    ...base,
    id: 'local:6b07e274.1be5:5',
    kind: 'session.error',
    sqlstate: '42501',
    message: 'permission denied for table citizens',
  },
  'record.forged': {
    ...base,
    id: 'local:6b07e274.1be5:6',
    kind: 'record.forged',
    claimed: 'audit',
    reasons: ['context', 'statement'],
    severity: 'LOG',
    sqlstate: '00000',
    claimedClass: 'MISC',
    claimedCommand: 'SET',
  },
  statement: {
    ...base,
    id: 'local:6b07e274.1be5:155',
    kind: 'statement',
    source: { file: 'log/postgresql-2026-11-26_074030.json', offset: 81234 },
    audit: {
      auditTypes: ['SESSION'],
      statementId: 68,
      substatementId: 1,
      class: 'READ',
      command: 'SELECT',
      objects: [{ type: 'TABLE', name: 'public.citizens' }],
      parameterCount: 0,
      rows: 100000,
    },
    effectiveRole: 'dba_alice',
    queryId: '-3357000809903621108',
    txid: '0',
    sql: {
      kind: 'copy',
      reads: ['public.citizens'],
      writes: [],
      hasWhere: false,
      hasLimit: false,
      copy: { direction: 'to', target: 'stdout', relation: 'public.citizens', hasQuery: false },
      functions: [],
      dangerousFunctions: [],
      fingerprint: 'a0b1c2d3e4f5a6b7',
      redacted: 'COPY public.citizens (id, nir, name, email) TO stdout',
    },
  },
  'change.txn': {
    v: 1,
    id: 'local:txn:0/1A2B3C4D',
    kind: 'change.txn',
    cluster: 'local',
    ts: '2026-11-26T07:41:00.000Z',
    source: { lsn: '0/1A2B3C4D' },
    xid: 812,
    commitLsn: '0/1A2B3C4D',
    commitTime: '2026-11-26T07:41:00.000Z',
    tables: [{ table: 'public.citizens', insert: 0, update: 0, delete: 5000, truncate: 0 }],
    totalRows: 5000,
    messages: [{ prefix: 'vigie', content: 'operator=alice ticket=OPS-123', transactional: true }],
    personalData: [{ table: 'public.citizens', column: 'nir', type: 'nir', count: 3 }],
  },
  'replication.slot': {
    v: 1,
    id: 'local:slot:unknown_slot:2026-11-26T07:41:00.000Z',
    kind: 'replication.slot',
    cluster: 'local',
    ts: '2026-11-26T07:41:00.000Z',
    slot: 'unknown_slot',
    plugin: 'pgoutput',
    slotType: 'logical',
    active: false,
    walStatus: 'lost',
    retainedWalBytes: 123456,
    known: false,
  },
  'replication.publication': {
    v: 1,
    id: 'local:pub:leak:2026-11-26T07:41:00.000Z',
    kind: 'replication.publication',
    cluster: 'local',
    ts: '2026-11-26T07:41:00.000Z',
    publication: 'leak',
    database: 'app',
    allTables: true,
    known: false,
  },
  'egress.sample': {
    ...base,
    id: 'local:6b07e274.1be5:egress:12',
    kind: 'egress.sample',
    transport: 'tcp',
    bytesSent: 18_000_000,
    bytesSentDelta: 2_000_000,
    bytesAcked: 17_900_000,
    bytesReceived: 4_000,
    final: false,
  },
  'collector.heartbeat': {
    v: 1,
    id: 'local:heartbeat:collector-pglog:2026-11-26T07:41:00.000Z',
    kind: 'collector.heartbeat',
    cluster: 'local',
    ts: '2026-11-26T07:41:00.000Z',
    collector: 'collector-pglog',
    instance: 'db1',
    lagBytes: 0,
    lagSeconds: 0.2,
  },
  'audit.settings': {
    v: 1,
    id: 'local:audit-settings:collector-pglog:2026-11-26T07:41:00.000Z',
    kind: 'audit.settings',
    cluster: 'local',
    ts: '2026-11-26T07:41:00.000Z',
    checked: 9,
    drift: [
      { setting: 'pgaudit.log', scope: 'role', role: 'mallory', expected: 'includes read', found: 'none' },
      { setting: 'log_connections', scope: 'server', expected: 'on', found: 'off' },
    ],
  },
  'log.gap': {
    v: 1,
    id: 'local:log-gap:truncated:/var/lib/postgresql/log/postgresql-x.json:1234:5678',
    kind: 'log.gap',
    cluster: 'local',
    ts: '2026-11-26T07:41:00.000Z',
    reason: 'truncated',
    file: '/var/lib/postgresql/log/postgresql-x.json',
    readBytes: 5678,
    knownBytes: 9000,
    sizeNow: 0,
    unreadBytes: 3322,
  },
  'statement.logged': {
    ...base,
    id: 'local:6b07e274.1be5:160',
    kind: 'statement.logged',
    sql: {
      kind: 'set',
      reads: [],
      writes: [],
      hasWhere: false,
      hasLimit: false,
      functions: [],
      dangerousFunctions: [],
      settings: [{ name: 'pgaudit.log', scope: 'session' }],
      redacted: 'SET pgaudit.log = $1',
    },
  },
} satisfies { [K in EventKind]: Extract<VigieEvent, { kind: K }> };

describe('event codec', () => {
  it.each(Object.entries(examples))('round-trips %s exactly', (_kind, event) => {
    const decoded = decodeEvent(encodeEvent(event));
    expect(decoded).toEqual({ ok: true, value: event });
  });

  it('keeps a query_id beyond 2^53 exact', () => {
    const decoded = decodeEvent(encodeEvent(examples.statement));
    expect(decoded.ok && decoded.value.kind === 'statement' && decoded.value.queryId).toBe('-3357000809903621108');
    // The naive path loses it: this is why the contract carries it as a string.
    expect(String(Number('-3357000809903621108'))).not.toBe('-3357000809903621108');
  });

  it('recovers a query_id that a producer wrote as a bare JSON number', () => {
    const text = JSON.stringify(examples.statement).replace('"-3357000809903621108"', '-3357000809903621108');
    expect(text).toContain('"queryId":-3357000809903621108');
    const decoded = decodeEvent(text);
    expect(decoded.ok && decoded.value.kind === 'statement' && decoded.value.queryId).toBe('-3357000809903621108');
  });

  it('recovers a bare query_id after any JSON whitespace', () => {
    const text = JSON.stringify(examples.statement).replace(
      '"queryId":"-3357000809903621108"',
      '"queryId":\n\t -3357000809903621108',
    );
    const decoded = decodeEvent(text);
    expect(decoded.ok && decoded.value.kind === 'statement' && decoded.value.queryId).toBe('-3357000809903621108');
  });

  it('rejects a query_id outside the signed 64-bit range', () => {
    const bad = { ...examples.statement, queryId: '9223372036854775808' };
    const decoded = decodeEvent(JSON.stringify(bad));
    expect(decoded.ok).toBe(false);
    if (!decoded.ok) expect(decoded.error.issues.map((i) => i.path)).toEqual(['queryId']);
  });

  it('names the path of every bad field', () => {
    const bad = {
      ...examples.statement,
      session: { ...session, pid: -1 },
      audit: { ...examples.statement.audit, objects: [{ type: 'TABLE' }] },
    };
    const decoded = decodeEvent(JSON.stringify(bad));
    expect(decoded.ok).toBe(false);
    if (decoded.ok) return;
    expect(decoded.error.code).toBe('VIGIE_CONTRACT_INVALID');
    expect(decoded.error.issues.map((i) => i.path).sort()).toEqual(['audit.objects.0.name', 'session.pid']);
    expect(decoded.error.message).toContain('session.pid');
  });

  it('rejects an unknown kind and non-JSON input as values, not exceptions', () => {
    const unknownKind = decodeEvent(JSON.stringify({ ...examples['session.end'], kind: 'session.teleport' }));
    expect(unknownKind.ok).toBe(false);
    if (!unknownKind.ok) expect(unknownKind.error.issues[0]?.path).toBe('kind');
    const garbage = decodeEvent('{"v":1,');
    expect(garbage.ok).toBe(false);
    if (!garbage.ok) expect(garbage.error.issues[0]?.message).toBe('not valid JSON');
  });

  it('bounds application_name: printable ASCII, 64 characters at most', () => {
    for (const applicationName of ['x'.repeat(65), 'line\nbreak', 'café', 'tab\there']) {
      const decoded = decodeEvent(
        JSON.stringify({ ...examples['session.end'], session: { ...session, applicationName } }),
      );
      expect(!decoded.ok && decoded.error.issues.map((i) => i.path)).toEqual(['session.applicationName']);
    }
    const ok = decodeEvent(
      JSON.stringify({ ...examples['session.end'], session: { ...session, applicationName: 'x'.repeat(64) } }),
    );
    expect(ok.ok).toBe(true);
  });

  it('refuses to encode an invalid event', () => {
    const bad = { ...examples['session.end'], durationMs: -5 } as VigieEvent;
    expect(() => encodeEvent(bad)).toThrowError(/durationMs/);
  });
});

describe('alert and dead-letter codecs', () => {
  const alert: Alert = {
    v: 1,
    id: 'dump:local:6b07e274.1be5',
    rule: 'dump',
    severity: 'critical',
    status: 'firing',
    title: 'Database dump',
    summary:
      'pg_dump of app (12 tables, 1.2M rows) by dba_alice from 127.0.0.3 (not the bastion) at 02:14 Europe/Paris',
    cluster: 'local',
    database: 'app',
    sessionId: '6b07e274.1be5',
    who: { login: 'dba_alice', effectiveRole: 'dba_alice', privileged: true },
    where: { clientAddr: '127.0.0.3', clientClass: 'non-bastion', applicationName: 'pg_dump' },
    what: { tables: ['public.citizens'], rows: 1_200_000, statements: 12 },
    evidence: { eventIds: ['local:6b07e274.1be5:155'], statements: ['COPY public.citizens (id) TO stdout'] },
    tags: ['T1213', 'T1048'],
    firstSeen: '2026-11-26T01:14:00.000Z',
    lastSeen: '2026-11-26T01:16:00.000Z',
    revision: 3,
  };
  it('round-trips an alert', () => {
    expect(decodeAlert(encodeAlert(alert))).toEqual({ ok: true, value: alert });
  });
  it('rejects an alert with an unknown severity', () => {
    const decoded = decodeAlert(JSON.stringify({ ...alert, severity: 'panic' }));
    expect(!decoded.ok && decoded.error.issues[0]?.path).toBe('severity');
  });
  it('round-trips a dead letter', () => {
    const letter: DeadLetter = {
      v: 1,
      id: 'local:deadletter:postgresql.json:4096',
      kind: 'deadletter',
      cluster: 'local',
      ts: '2026-11-26T07:41:00.000Z',
      component: 'collector-pglog',
      reason: 'malformed_json',
      detail: 'Unexpected end of JSON input at column 80',
      source: { file: 'log/postgresql.json', offset: 4096 },
      excerpt: '{"timestamp":"2026-11-26 07:40:36.210 UTC","user":"dba",',
    };
    expect(decodeDeadLetter(encodeDeadLetter(letter))).toEqual({ ok: true, value: letter });
  });
});

describe('topics, keys and session ids', () => {
  it('routes each kind to its topic', () => {
    expect(topicOf('statement')).toBe(TOPICS.activity);
    expect(topicOf('change.txn')).toBe(TOPICS.changes);
    expect(topicOf('egress.sample')).toBe(TOPICS.egress);
  });
  it('names the streams events are published on: every topic some kind goes to, not alerts or dead letters', () => {
    expect(EVENT_STREAMS).toEqual(['activity', 'changes', 'egress']);
  });
  it('keys by cluster and session', () => {
    expect(sessionKey('local', '6b07e274.1be5')).toBe('local/6b07e274.1be5');
  });
  it('computes the session id the server prints', () => {
    // backend_start 2026-11-26 07:40:36 UTC = 1795678836 s, pid 7141 → the log's session_id.
    expect(sessionIdOf(Date.UTC(2026, 10, 26, 7, 40, 36) / 1000, 7141)).toBe('6b07e274.1be5');
  });
});
