import { describe, expect, it } from 'vitest';
import { decodeAlert, decodeDeadLetter, decodeEvent, encodeAlert, encodeDeadLetter, encodeEvent } from './codec.js';
import { sessionIdOf } from './common.js';
import type { VigieEvent } from './events.js';
import type { Alert } from './alert.js';
import type { DeadLetter } from './deadletter.js';
import { EVENT_STREAMS, TOPICS, sessionKey, topicOf } from './topics.js';
import { examples, session } from '../test-support/examples.js';

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

  it('refuses a query_id that is not a number (as a value, not an exception)', () => {
    for (const queryId of ['x', '', '12a', '1.5']) {
      const decoded = decodeEvent(JSON.stringify({ ...examples.statement, queryId }));
      expect(!decoded.ok && decoded.error.issues.map((i) => `${i.path}: ${i.message}`)).toEqual([
        'queryId: expected a signed 64-bit integer as a decimal string',
      ]);
    }
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
