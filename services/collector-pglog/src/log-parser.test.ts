import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeEvent, type StatementEvent, type VigieEvent } from '@vigie/contract';
import { createSqlAnalyzer } from '@vigie/sql';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  createLogParser,
  roleChange,
  type LogParser,
  type ParserOutput,
  type StatementAnalyzer,
} from './log-parser.js';
import type { LogFormat, RawRecord } from './log-record.js';
import { parseLogFiles } from './read-log-file.js';
import { RecordSplitter } from './record-splitter.js';
import { stringifyEvent } from '@vigie/collector-kit';

const FIXTURES = fileURLToPath(new URL('../../../test/fixtures/pglog/', import.meta.url));
const jsonText = readFileSync(`${FIXTURES}cases.json`);
const csvText = readFileSync(`${FIXTURES}cases.csv`);
const expected = JSON.parse(readFileSync(`${FIXTURES}cases.expected.json`, 'utf8')) as VigieEvent[];

let analyzer: StatementAnalyzer;
beforeAll(async () => {
  analyzer = await createSqlAnalyzer({ hmacKey: 'k' });
});

function records(format: LogFormat, bytes: Buffer, file = 'f', chunk = bytes.length): RawRecord[] {
  const s = new RecordSplitter(format, file, 0);
  const out: RawRecord[] = [];
  for (let i = 0; i < bytes.length; i += chunk) out.push(...s.push(bytes.subarray(i, i + chunk)).records);
  expect(s.pendingBytes).toBe(0);
  return out;
}

function parse(format: LogFormat, bytes: Buffer, options: { redact?: boolean } = {}): ParserOutput[] {
  const p = createLogParser({
    cluster: 'local',
    analyzer,
    redaction: { enabled: options.redact ?? true },
    now: () => 0,
  });
  const out: ParserOutput[] = [];
  for (const r of records(format, bytes)) out.push(...p.push(r));
  out.push(...p.flush(0));
  return out;
}

const withoutSource = (e: ParserOutput) => ({ ...e, source: undefined });
const ofApp = (events: ParserOutput[], app: string) =>
  events.filter((e): e is VigieEvent => e.kind !== 'deadletter' && e.session?.applicationName === `vigie_fx_${app}`);
const statements = (events: ParserOutput[]) => events.filter((e): e is StatementEvent => e.kind === 'statement');

describe('captured fixtures (statements.sql on the real cluster)', () => {
  it('jsonlog gives exactly the expected events, field by field', () => {
    const events = parse('jsonlog', jsonText);
    // After a re-capture (or a deliberate change of the events), `VIGIE_UPDATE_FIXTURES=1` rewrites the expectation:
    // review its diff before committing it.
    if (process.env['VIGIE_UPDATE_FIXTURES'] === '1') {
      const now = events.map((e) => ({ ...e, source: { offset: e.source?.offset } }));
      writeFileSync(`${FIXTURES}cases.expected.json`, `${JSON.stringify(now, null, 1)}\n`);
      return;
    }
    expect(events.length).toBe(expected.length);
    events.forEach((e, i) => {
      expect({ ...e, source: { offset: e.source?.offset } }).toEqual(expected[i]);
    });
  });

  it('csvlog (multi-line quoted records) gives the same events as jsonlog', () => {
    const csv = parse('csvlog', csvText).map(withoutSource);
    const json = parse('jsonlog', jsonText).map(withoutSource);
    expect(csv).toEqual(json);
  });

  it('every event is valid against the contract', () => {
    for (const e of parse('jsonlog', jsonText)) {
      if (e.kind === 'deadletter') throw new Error('no dead letter expected');
      const decoded = decodeEvent(JSON.stringify(e));
      expect(decoded.ok ? 'ok' : decoded.error.message).toBe('ok');
    }
  });

  it('splits csvlog identically whatever the chunk boundaries', () => {
    const whole = records('csvlog', csvText).map((r) => [r.offset, r.text]);
    for (const chunk of [1, 7, 100, 4096]) {
      expect(records('csvlog', csvText, 'f', chunk).map((r) => [r.offset, r.text])).toEqual(whole);
    }
  });

  it('merges the per-relation lines of a join into one statement with both tables', () => {
    const [join] = statements(ofApp(parse('jsonlog', jsonText), 'join'));
    expect(join?.audit.objects).toEqual([
      { type: 'TABLE', name: 'public.citizens' },
      { type: 'TABLE', name: 'social.payments' },
    ]);
    expect(join?.audit.rows).toBe(0);
    expect([...(join?.sql.reads ?? [])].sort()).toEqual(['public.citizens', 'social.payments']);
  });

  it('merges SESSION and OBJECT twins', () => {
    const twins = statements(ofApp(parse('jsonlog', jsonText), 'object')).filter((s) => s.audit.auditTypes.length > 1);
    expect(twins.map((s) => [s.audit.auditTypes, s.audit.objects.length, s.audit.rows])).toEqual([
      [['OBJECT', 'SESSION'], 1, 1],
    ]);
  });

  it('tracks SET ROLE / RESET ROLE as the effective role', () => {
    const s = statements(ofApp(parse('jsonlog', jsonText), 'setrole'));
    expect(s.map((e) => [e.sql.redacted, e.effectiveRole, e.session?.user])).toEqual([
      ['SET ROLE dba_alice', 'admin', 'admin'],
      ['SELECT count(*) FROM public.citizens WHERE birth_date < $1', 'dba_alice', 'admin'],
      ['RESET ROLE', 'dba_alice', 'admin'],
      ['SELECT count(*) FROM social.benefit_claims', 'admin', 'admin'],
    ]);
  });

  it('takes COPY relations from the statement, never pgaudit rows', () => {
    const s = statements(ofApp(parse('jsonlog', jsonText), 'copylog'));
    const copies = s.filter((e) => e.audit.command === 'COPY');
    expect(copies.length).toBe(2);
    for (const c of copies) expect(c.audit.rows).toBeUndefined();
    expect(copies[0]?.sql.copy).toEqual({
      direction: 'to',
      target: 'stdout',
      hasQuery: false,
      relation: 'public.citizens',
    });
    // With log_rows off, pgaudit names the relation itself (and prints no rows at all).
    const rowsOff = s.find((e) => e.audit.statementId === 4);
    expect([rowsOff?.audit.command, rowsOff?.audit.objects, rowsOff?.audit.rows]).toEqual([
      'SELECT',
      [{ type: 'TABLE', name: 'public.citizens' }],
      undefined,
    ]);
    const pcopy = statements(ofApp(parse('jsonlog', jsonText), 'pcopy'));
    expect(pcopy[0]?.sql.copy).toMatchObject({ direction: 'to', target: 'stdout', relation: 'social.payments' });
  });

  it('keeps bound parameters out: a count and HMACs only', () => {
    const [first] = statements(ofApp(parse('jsonlog', jsonText), 'bind'));
    expect(first?.audit.parameterCount).toBe(2);
    expect(first?.audit.parameterHashes).toHaveLength(2);
    expect(first?.audit.parameterHashes?.[0]).toMatch(/^[0-9a-f]{16}$/);
  });

  it('lets no literal or parameter value through', () => {
    const text = JSON.stringify(parse('jsonlog', jsonText)) + JSON.stringify(parse('csvlog', csvText));
    for (const secret of [
      '185057800608491',
      '299129912345678',
      '285017512345678',
      'jeanne.martin@example.fr',
      'a,b',
      'Jean-Pierre',
      '1950-01-01',
      'Sup3r-Secret',
      'rue de la Paix',
      'x@example.fr',
      '/etc/hostname',
      '75011',
      'Lyon',
      'zoe.vigie@exemple.fr',
      '285037512345678',
      '2850375123456',
      'Marguerite',
      'Vigietest',
      '0612345678',
      'FR7630006000011234567890189',
      '30006000011234567890189',
      '/etc/hostname',
    ]) {
      expect(text, secret).not.toContain(secret);
    }
  });

  it('redaction off is honoured (explicit setting)', () => {
    const text = JSON.stringify(parse('jsonlog', jsonText, { redact: false }));
    expect(text).toContain('1950-01-01');
  });

  it('reports failed logins with their SQLSTATE and a literal-free reason', () => {
    const failures = parse('jsonlog', jsonText).filter((e) => e.kind === 'auth.failure');
    expect(failures.map((e) => [e.user, e.session?.user, e.sqlstate, e.reason])).toEqual([
      ['contractor_bob', 'contractor_bob', '28P01', 'password authentication failed'],
      // A role that does not exist (DETAIL `Role "…" does not exist.`): the name may be a mistyped password.
      [undefined, undefined, '28P01', 'role does not exist'],
      ['vigie_fx_nohba', 'vigie_fx_nohba', '28000', 'no pg_hba.conf entry'],
    ]);
    expect(JSON.stringify(parse('csvlog', csvText))).not.toContain('vigie_fx_ghost');
    expect(JSON.stringify(parse('jsonlog', jsonText))).not.toContain('vigie_fx_ghost');
  });

  it('sees pg_basebackup as a replication connection with BASE_BACKUP', () => {
    const events = ofApp(parse('jsonlog', jsonText), 'basebackup');
    expect(events.map((e) => e.kind)).toEqual([
      'replication.connection',
      'replication.command',
      'replication.command',
      'replication.command',
      'replication.command',
      'session.end',
    ]);
    const base = events.find((e) => e.kind === 'replication.command' && e.command === 'BASE_BACKUP');
    expect(base?.kind === 'replication.command' && base.text).toBe(
      'BASE_BACKUP ( LABEL $1,  PROGRESS,  MANIFEST $2,  TARGET $3)',
    );
    expect(base?.session?.backendType).toBe('walsender');
  });

  it('turns client ERRORs into session.error: a message template and the kind of the statement, no text', () => {
    const errors = ofApp(parse('jsonlog', jsonText), 'denied').filter((e) => e.kind === 'session.error');
    expect(
      errors.map(
        (e) =>
          e.kind === 'session.error' && [e.sqlstate, e.message, e.statementKind, e.statement, !!e.statementFingerprint],
      ),
    ).toEqual([
      ['42501', 'permission denied for table citizens', 'update', undefined, true],
      ['42P01', 'relation $1 does not exist', 'select', undefined, true],
      ['42601', 'syntax error at or near $1', 'other', undefined, false],
    ]);
  });

  it.each(['jsonlog', 'csvlog'] as const)(
    'reports RAISE-forged audit and lifecycle records as record.forged and acts on none of them (%s)',
    (format) => {
      const events = ofApp(parse(format, format === 'jsonlog' ? jsonText : csvText), 'forge');
      const forged = events.filter((e) => e.kind === 'record.forged');
      expect(forged.map((e) => e.kind === 'record.forged' && [e.claimed, e.reasons, e.claimedCommand])).toEqual([
        ['audit', ['context', 'statement'], 'SET'], // RAISE LOG from a DO block
        ['audit', ['context', 'severity'], 'SET'], // RAISE WARNING: no statement, but WARNING 01000
        ['disconnection', ['context', 'statement', 'mismatch'], undefined],
        ['connection', ['context', 'statement', 'origin', 'mismatch'], undefined],
        ['replication-command', ['context', 'statement', 'origin'], undefined],
        ['audit', ['context', 'statement'], 'SET'], // RAISE LOG from a function
      ]);
      // The forged SET ROLE vigie / RESET ROLE changed nothing, the forged disconnection ended nothing, the forged
      // connection started nothing: the COPY that follows is contractor_bob's, in the same session.
      const copy = statements(events).find((e) => e.sql.kind === 'copy');
      expect([copy?.effectiveRole, copy?.session?.user, copy?.sql.copy?.relation]).toEqual([
        'contractor_bob',
        'contractor_bob',
        'public.citizens',
      ]);
      expect(events.filter((e) => e.kind === 'session.start' || e.kind === 'session.end').length).toBe(2);
      expect(events.filter((e) => e.kind === 'replication.command')).toEqual([]);
      // Genuine records of every kind are believed: nothing else in the captured log is called forged.
      const all = parse(format, format === 'jsonlog' ? jsonText : csvText);
      expect(all.filter((e) => e.kind === 'record.forged').length).toBe(6);
    },
  );

  it.each(['jsonlog', 'csvlog'] as const)(
    'follows the role through ROLLBACK, SET LOCAL, savepoints and RESET ROLE (%s)',
    (format) => {
      const s = statements(ofApp(parse(format, format === 'jsonlog' ? jsonText : csvText), 'roles'));
      // The `WHERE id = n` probes, in order: who the server ran each as (checked with current_user by hand).
      const probes = s.filter((e) => e.sql.redacted === 'SELECT count(*) FROM public.citizens WHERE id = $1');
      expect(probes.map((e) => e.effectiveRole)).toEqual([
        'contractor_bob', // 1: SET ROLE then an ERROR: the transaction rolled back (its ROLLBACK is not audited)
        'contractor_bob', // 2: SET ROLE then ROLLBACK
        'vigie_fx_target', // 3: SET LOCAL ROLE, inside its transaction
        'contractor_bob', // 4: … which ended with COMMIT
        'vigie_fx_target', // 5: SET ROLE after SAVEPOINT a
        'contractor_bob', // 6: ROLLBACK TO SAVEPOINT a, COMMIT
        'vigie_fx_target', // 7: SET ROLE in autocommit: kept
        'vigie_fx_target', // 8: SET ROLE NONE after SAVEPOINT b, an ERROR, ROLLBACK TO b (not audited)
        'contractor_bob', // 9: RESET ROLE
      ]);
    },
  );

  it('sends error messages as templates, never RAISE text, quoted values or the failing statement', () => {
    const errors = ofApp(parse('jsonlog', jsonText), 'errors').filter((e) => e.kind === 'session.error');
    expect(errors.map((e) => e.kind === 'session.error' && [e.sqlstate, e.message, e.statementKind])).toEqual([
      ['22P02', 'invalid input syntax for type integer: $1', 'select'],
      ['22P02', 'malformed array literal: $1', 'select'],
      ['P0001', '<raised by user code: not forwarded>', 'do'],
      ['42501', '<raised by user code: not forwarded>', 'do'], // RAISE … USING ERRCODE = '42501'
      ['42601', 'syntax error at or near $1', 'select'],
      ['42703', 'column $1 does not exist', 'select'],
      ['42P01', 'relation $1 does not exist', 'select'],
    ]);
    // Under standard_conforming_strings = off the statement is still analysed, its strings hidden.
    const scs = statements(ofApp(parse('jsonlog', jsonText), 'errors')).at(-1);
    expect([scs?.sql.redacted, scs?.sql.reads]).toEqual([
      'SELECT count(*) FROM public.citizens WHERE email = $1',
      ['public.citizens'],
    ]);
  });

  it('keeps e-mails and numbers out of a client-chosen application_name', () => {
    const events = parse('jsonlog', jsonText).filter(
      (e): e is VigieEvent => e.kind !== 'deadletter' && !!e.session?.applicationName?.startsWith('vigie_fx_app'),
    );
    expect(events.length).toBe(3);
    for (const e of events) expect(e.session?.applicationName).toBe('vigie_fx_app $1 $2');
  });

  it('never gives one statement the cached analysis of another under the same query id (a function)', () => {
    const s = statements(ofApp(parse('jsonlog', jsonText), 'dynamic')).filter((e) =>
      e.sql.redacted.startsWith('SELECT id, nir'),
    );
    // pg_temp.fx_dyn(1) twice, then fx_dyn(2): the three inner statements share the call's query id, substatement
    // id, command and first 48 characters.
    expect(new Set(s.map((e) => e.queryId)).size).toBeLessThanOrEqual(2);
    expect(s.map((e) => [e.sql.hasWhere, e.sql.dangerousFunctions])).toEqual([
      [true, []],
      [true, []],
      [false, ['pg_read_file']],
    ]);
  });

  it('sees a whole pg_dump session: one COPY per table, all tables', () => {
    const dump = statements(ofApp(parse('jsonlog', jsonText), 'pgdump'));
    const copied = dump.filter((s) => s.sql.kind === 'copy').map((s) => s.sql.copy?.relation);
    expect(copied).toEqual(expect.arrayContaining(['public.citizens', 'social.payments', 'social.case_notes']));
    expect(dump.some((s) => s.sql.redacted.startsWith('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ'))).toBe(true);
  });
});

describe('parser mechanics', () => {
  const line = (n: number, msg: string, extra = '') =>
    `{"timestamp":"2026-11-26 08:00:00.000 UTC","user":"u","dbname":"app","pid":1,"remote_host":"127.0.0.1","remote_port":5,"session_id":"6b07ec8f.1","line_num":${n},"error_severity":"LOG","message":${JSON.stringify(msg)}${extra},"backend_type":"client backend","query_id":-3357000809903621108}`;
  const raw = (text: string, offset: number): RawRecord => ({
    format: 'jsonlog',
    text,
    file: 'f',
    offset,
    bytes: text.length + 1,
  });
  let clock = 0;
  let p: LogParser;
  beforeAll(() => {
    p = createLogParser({ cluster: 'c', analyzer, now: () => clock });
  });

  it('holds a statement until the session moves on, and the checkpoint stays before it', () => {
    expect(p.push(raw(line(1, 'AUDIT: SESSION,1,1,READ,SELECT,TABLE,public.a,SELECT 1 FROM a,<none>,3'), 0))).toEqual(
      [],
    );
    expect(p.oldestPending()).toEqual({ file: 'f', offset: 0 });
    expect(p.push(raw(line(2, 'AUDIT: SESSION,1,1,READ,SELECT,TABLE,public.b,SELECT 1 FROM a,<none>,3'), 100))).toEqual(
      [],
    );
    clock = 100;
    expect(p.flush(500)).toEqual([]);
    clock = 700;
    const [e] = p.flush(500);
    expect(e?.kind === 'statement' && [e.id, e.audit.objects.length, e.audit.rows, e.queryId]).toEqual([
      'c:6b07ec8f.1:1',
      2,
      3,
      '-3357000809903621108',
    ]);
    expect(p.oldestPending()).toBeUndefined();
  });

  it('dead-letters malformed records with a redacted excerpt and goes on', () => {
    const bad = '{"timestamp":"2026-11-26 08:00:00.000 UTC","message":"nir 185057800608491 \'x@y.fr\'", broken';
    const [d] = p.push(raw(bad, 42));
    expect(d?.kind).toBe('deadletter');
    if (d?.kind !== 'deadletter') return;
    expect([d.reason, d.source]).toEqual(['malformed_json', { file: 'f', offset: 42 }]);
    expect(d.excerpt).not.toContain('185057800608491');
    expect(d.excerpt).not.toContain('x@y.fr');
    expect(d.excerpt).toContain('"timestamp"');
    const [b] = p.push(raw(line(9, 'AUDIT: SESSION,x,1,READ,SELECT,,,"unterminated'), 43));
    expect(b?.kind === 'deadletter' && b.reason).toBe('bad_audit_payload');
    const [ok] = p.push(
      raw(line(10, 'disconnection: session time: 1:02:03.004 user=u database=app host=127.0.0.1 port=5'), 44),
    );
    expect(ok?.kind === 'session.end' && ok.durationMs).toBe(3_723_004);
  });

  it('caches analyses by query_id per database, never for query_id 0', () => {
    let calls = 0;
    const counting: StatementAnalyzer = {
      analyze: (sql) => ((calls += 1), analyzer.analyze(sql)),
      hashParameter: (v) => analyzer.hashParameter(v),
    };
    const q = createLogParser({ cluster: 'c', analyzer: counting, now: () => 0 });
    // Same query_id, substatement, command and first 48 characters: only the database tells them apart.
    const stmt = (db: string, session: string, n: number, rel: string, qid: string) =>
      `{"timestamp":"2026-11-26 08:00:00.000 UTC","user":"u","dbname":"${db}","pid":1,"remote_host":"127.0.0.1","session_id":"${session}","line_num":${n},"error_severity":"LOG","message":${JSON.stringify(`AUDIT: SESSION,${n},1,READ,SELECT,,,"SELECT a, b, c, d, e, f, g, h, i, j, k, l, m FROM ${rel} WHERE x = ${n}",<none>`)},"backend_type":"client backend","query_id":${qid}}`;
    const relations = (lines: string[]) => {
      const out: string[][] = [];
      lines.forEach((l, i) => q.push(raw(l, i)));
      for (const e of q.flush(0)) if (e.kind === 'statement') out.push(e.sql.reads);
      return out;
    };
    expect(
      relations([stmt('app', '6b07ec8f.2', 1, 'public.t1', '77'), stmt('other', '6b07ec8f.3', 1, 'x.t2', '77')]),
    ).toEqual([['public.t1'], ['x.t2']]);
    expect(calls).toBe(2);
    // A repeat in the first database is served from the cache (same shape, another literal).
    expect(relations([stmt('app', '6b07ec8f.2', 2, 'public.t1', '77')])).toEqual([['public.t1']]);
    expect(calls).toBe(2);
    // query_id 0 (compute_query_id off) identifies nothing: analysed every time.
    relations([stmt('app', '6b07ec8f.2', 3, 'public.t1', '0'), stmt('app', '6b07ec8f.2', 4, 'public.t1', '0')]);
    expect(calls).toBe(4);
  });

  it('reads SET ROLE variants', () => {
    expect(roleChange('SET ROLE dba_alice;')).toBe('dba_alice');
    expect(roleChange('set session role "Mixed""Case"')).toBe('Mixed"Case');
    expect(roleChange("SET ROLE 'quoted'")).toBe('quoted');
    expect(roleChange('SET ROLE NONE')).toBeNull();
    expect(roleChange('RESET ROLE;')).toBeNull();
    expect(roleChange('SET SESSION AUTHORIZATION bob')).toBe('bob');
    expect(roleChange('DISCARD ALL')).toBeNull();
    expect(roleChange('SET search_path TO x')).toBeUndefined();
  });
});

describe('shared parts of events and their JSON', () => {
  it('gives the events of a session one frozen session object while it does not change', () => {
    const events = parse('jsonlog', jsonText).filter((e): e is VigieEvent => e.kind !== 'deadletter');
    const bySession = new Map<string, Set<unknown>>();
    for (const e of events) {
      if (!e.session) continue;
      let set = bySession.get(e.session.id);
      if (!set) bySession.set(e.session.id, (set = new Set()));
      set.add(e.session);
    }
    // Fewer objects than events (shared), every one frozen; a session whose application name changes gets a new one.
    const objects = [...bySession.values()].reduce((n, s) => n + s.size, 0);
    expect(objects).toBeLessThan(events.filter((e) => e.session).length / 2);
    expect(events.every((e) => !e.session || Object.isFrozen(e.session))).toBe(true);
  });

  it('stringifyEvent writes exactly JSON.stringify’s text, whether the shared parts are cached or not', () => {
    for (const format of ['jsonlog', 'csvlog'] as const) {
      const events = parse(format, format === 'jsonlog' ? jsonText : csvText).filter(
        (e): e is VigieEvent => e.kind !== 'deadletter',
      );
      expect(events.length).toBeGreaterThan(100);
      for (const e of events) expect(stringifyEvent(e)).toBe(JSON.stringify(e));
      for (const e of events) expect(stringifyEvent(e)).toBe(JSON.stringify(e)); // second pass: cache hits
    }
    // A shared part that is not frozen is never cached: a later change shows.
    const e = parse('jsonlog', jsonText).find((x): x is StatementEvent => x.kind === 'statement')!;
    const open = { ...e, sql: { ...e.sql } };
    expect(stringifyEvent(open)).toBe(JSON.stringify(open));
    open.sql.redacted = 'changed';
    expect(stringifyEvent(open)).toBe(JSON.stringify(open));
  });
});

describe('records over the size limit and records cut short', () => {
  /** Splits with a 64 KiB record limit and parses, oversized records included. */
  function parseLimited(format: LogFormat, bytes: Buffer) {
    const rejected: string[] = [];
    const p = createLogParser({
      cluster: 'local',
      analyzer,
      now: () => 0,
      onRecord: (outcome, reason) => {
        if (outcome === 'rejected') rejected.push(reason ?? '?');
      },
    });
    const s = new RecordSplitter(format, 'f', 0, 64 << 10);
    const out: ParserOutput[] = [];
    for (let i = 0; i < bytes.length; i += 8192) {
      for (const r of s.push(bytes.subarray(i, i + 8192)).records) out.push(...p.push(r));
    }
    out.push(...p.flush(0));
    return { out, rejected };
  }

  it.each(['jsonlog', 'csvlog'] as const)(
    'counts the dead letter of an oversized record and still emits its statement, truncated (%s)',
    (format) => {
      const { out, rejected } = parseLimited(format, format === 'jsonlog' ? jsonText : csvText);
      const dead = out.filter((e) => e.kind === 'deadletter');
      expect(dead.map((d) => d.kind === 'deadletter' && d.reason)).toEqual(['oversized_record']);
      expect(rejected).toEqual(['oversized_record']);
      const cut = statements(ofApp(out, 'oversized')).filter((e) => e.truncated);
      expect(cut.map((e) => [e.sql.kind, e.sql.copy?.relation, e.sql.copy?.target, e.effectiveRole])).toEqual([
        ['copy', 'public.citizens', 'stdout', 'contractor_bob'],
      ]);
      expect(decodeEvent(JSON.stringify(cut[0])).ok).toBe(true);
      // Every other event is the same as without the limit.
      const whole = parse(format, format === 'jsonlog' ? jsonText : csvText).filter(
        (e) => e.kind !== 'statement' || !e.sql.redacted.startsWith('COPY public.citizens (id) TO STDOUT'),
      );
      expect(out.filter((e) => e.kind !== 'deadletter' && !(e.kind === 'statement' && e.truncated)).length).toBe(
        whole.length,
      );
    },
  );

  it.each(['json', 'csv'] as const)(
    'parseLogFiles (replay) counts an oversized record and gives its truncated statement (.%s)',
    async (ext) => {
      const dir = mkdtempSync(join(tmpdir(), 'vigie-oversized-'));
      const file = join(dir, `postgresql-1.${ext}`);
      writeFileSync(file, ext === 'json' ? jsonText : csvText);
      const rejected: string[] = [];
      const out: ParserOutput[] = [];
      for await (const e of parseLogFiles([file], {
        cluster: 'local',
        analyzer,
        now: () => 0,
        maxRecordBytes: 64 << 10,
        onRecord: (o, r) => o === 'rejected' && rejected.push(r ?? '?'),
      })) {
        out.push(e);
      }
      rmSync(dir, { recursive: true, force: true });
      expect(rejected).toEqual(['oversized_record']);
      const cut = statements(out).filter((e) => e.sql.copy?.relation === 'public.citizens' && e.truncated);
      expect(cut.map((e) => [e.session?.applicationName, e.sql.copy?.target])).toEqual([
        ['vigie_fx_oversized', 'stdout'],
      ]);
    },
  );

  it('resynchronises after a csvlog record cut short: the records after it are all read', () => {
    const lines = csvText.toString('utf8').split('\n');
    // A record cut inside its quoted message (the server died mid-write), then the rest of the log.
    const victim = lines.findIndex((l) => l.includes('"AUDIT: SESSION') && l.includes('public.citizens'));
    const cut = lines[victim]?.slice(0, lines[victim]!.indexOf('"AUDIT: SESSION') + 30) ?? '';
    const bytes = Buffer.from(`${[...lines.slice(0, victim), cut, ...lines.slice(victim + 1)].join('\n')}`);
    const all = parse('csvlog', csvText);
    const rejected: string[] = [];
    const p = createLogParser({
      cluster: 'local',
      analyzer,
      now: () => 0,
      onRecord: (o, r) => o === 'rejected' && rejected.push(r ?? '?'),
    });
    const out: ParserOutput[] = [];
    for (const r of records('csvlog', bytes)) out.push(...p.push(r));
    out.push(...p.flush(0));
    expect(rejected).toEqual(['broken_record']);
    // Everything but the cut record's own event comes out as before.
    const ids = new Set(out.map((e) => e.id));
    const missing = all.filter((e) => !ids.has(e.id));
    expect(missing.length).toBeLessThanOrEqual(1);
    expect(out.filter((e) => e.kind !== 'deadletter').length).toBeGreaterThanOrEqual(all.length - 1);
  });

  it('does not resynchronise on a record-like line inside a quoted field', () => {
    // A statement holding a whole csvlog line: inside the quoted message every quote is doubled, so the line
    // cannot have the unquoted shape a real record start has.
    const fake =
      '2026-12-05 11:33:12.554 UTC,"admin","app",1,"127.0.0.1:1",6b13f678.37fd,9,"SET",2026-12-05 11:33:12 UTC,3/9,0,LOG,00000,"AUDIT: SESSION,1,1,MISC,SET,,,SET ROLE vigie,<none>",,,,,,,,,"psql","client backend",,0';
    const host = csvText
      .toString('utf8')
      .split('\n')
      .find((l) => l.includes('"AUDIT: SESSION,1,1,READ,SELECT'))!;
    const injected = host.replace('SELECT id', `SELECT '\n${fake.replace(/"/g, '""""')}\n' AS x, id`);
    const recs = records('csvlog', Buffer.from(`${injected}\n${host}\n`));
    expect(recs.map((r) => r.broken ?? false)).toEqual([false, false]);
    expect(recs[0]?.text).toContain('SET ROLE vigie');
  });

  it('counts bytes that are not valid UTF-8', () => {
    const s = new RecordSplitter('jsonlog', 'f', 0);
    const bad = Buffer.concat([
      Buffer.from('{"message":"caf'),
      Buffer.from([0xe9, 0xff]),
      Buffer.from('"}\n{"a":1}\n'),
    ]);
    const { records: out, invalidUtf8Bytes } = s.push(bad);
    expect(out.length).toBe(2);
    expect(invalidUtf8Bytes).toBe(2);
    expect(s.push(Buffer.from('{"é":1}\n')).invalidUtf8Bytes).toBe(0);
  });
});
