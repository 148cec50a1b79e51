import { isDangerousFunction } from '@vigie/sql';
import {
  CollectorName,
  collectorHeartbeat,
  PrivilegeChange,
  SettingChange,
  SourceHealth,
  VigieEvent,
  type SessionInfo,
  type StatementEvent,
} from '@vigie/contract';
import { z } from 'zod';
import { NO_ROLE_HISTORY, type RoleHistory } from '../engine/rule-api.js';

/**
 * Rule fixtures are written compactly (a statement is its SQL text plus the few facts the server logs) and
 * expanded here into contract events. The SQL facts a fixture does not state are inferred by simple patterns:
 * fixtures are small hand-written statements, not arbitrary SQL (the real analyzer is exercised by replay tests).
 */
const FixtureEvent = z
  .object({
    s: z.string().describe('session alias'),
    at: z.string().describe('ISO instant (UTC)'),
    kind: z.enum(['session.start', 'session.end', 'replication.connection', 'auth.failure']).optional(),
    noSuchRole: z
      .boolean()
      .optional()
      .describe('auth.failure for a role that does not exist (the collector drops the name)'),
    sql: z.string().optional(),
    reads: z.array(z.string()).optional(),
    rows: z.number().int().nonnegative().optional(),
    role: z.string().optional().describe('effective role (after SET ROLE)'),
    txid: z.string().optional().describe('transaction id the log carries (joins a write to the WAL `change.txn`)'),
    egress: z.number().int().nonnegative().optional().describe('bytes sent so far on the socket'),
    final: z.boolean().optional(),
    replication: z.string().optional().describe('a replication command, e.g. BASE_BACKUP ( LABEL $1 )'),
    settings: z
      .array(SettingChange)
      .optional()
      .describe('configuration the statement changes (the analyzer finds them in real SQL)'),
    functions: z.array(z.string()).optional().describe('functions the statement calls'),
    droppedExtensions: z.array(z.string()).optional(),
    privileges: z.array(PrivilegeChange).optional().describe('privilege changes (the analyzer finds them in real SQL)'),
    remoteHosts: z.array(z.string()).optional().describe('hosts of dblink connection strings / foreign servers'),
    hiddenReads: z.array(z.string()).optional().describe('relations read through query_to_xml-family strings'),
    paging: z.enum(['offset', 'keyset']).optional().describe('the SELECT reads one page (LIMIT/OFFSET or keyset)'),
    countOnly: z.boolean().optional().describe('the SELECT returns only count(…) values'),
    logged: z
      .boolean()
      .optional()
      .describe('the statement came from a log_statement line (statement.logged), not from pgaudit'),
    repeat: z.number().int().positive().optional(),
    everyMs: z.number().int().positive().default(1000),
  })
  .strict();

/** A collector heartbeat, compactly: which collector, when, its source health, the fixture sessions it announces. */
const FixtureHeartbeat = z
  .object({
    heartbeat: z.string().regex(/^collector-[a-z]+\/.+$/, '<collector>/<instance>'),
    at: z.string(),
    health: SourceHealth.optional(),
    announces: z.array(z.string()).optional().describe('aliases of fixture sessions the collector holds'),
    setup: z.array(z.string()).optional().describe('aliases of one-off setup sessions it announces'),
    accounts: z.array(z.string()).optional().describe('roles it says it connects as'),
    repeat: z.number().int().positive().optional(),
    everyMs: z.number().int().positive().default(10_000),
  })
  .strict();

/** Advance the engine's clock (`tick`) at this instant, between events. */
const FixtureTick = z.object({ tick: z.string() }).strict();

const FixtureSession = z.object({
  id: z.string(),
  user: z.string(),
  database: z.string().default('app'),
  clientAddr: z.string().optional(),
  applicationName: z.string().optional(),
  backendType: z.string().optional(),
});

/** Expected final state of one alert of the rule under test. */
const ExpectedAlert = z
  .object({
    id: z.string(),
    severity: z.enum(['info', 'warning', 'critical']),
    status: z.enum(['firing', 'resolved']).optional(),
    tables: z.array(z.string()).optional(),
    rows: z.number().optional(),
    bytes: z.number().optional(),
    statements: z.number().optional(),
    objects: z.array(z.string()).optional(),
    summary: z.string().optional().describe('a substring the summary must contain'),
    revisionAtMost: z.number().int().positive().optional(),
    tags: z.array(z.string()).optional().describe('tags the alert must carry (among others)'),
    notTags: z.array(z.string()).optional().describe('tags the alert must not carry'),
  })
  .strict();

/** One fixture file: sessions, events, and the alerts of the rule under test (empty = must not match). */
export const RuleFixture = z
  .object({
    description: z.string(),
    policy: z.record(z.string(), z.unknown()).optional().describe('shallow overrides of the default policy sections'),
    privileged: z.array(z.string()).default([]).describe('roles the catalog reports as privileged'),
    siteRules: z.record(z.string(), z.unknown()).optional().describe('a site rules file applied on top'),
    sessions: z.record(z.string(), FixtureSession).default({}),
    /**
     * Compact session events, or full contract events (`v: 1, kind: …`) for what has no session shorthand:
     * `change.txn`, `replication.slot`, `replication.publication`, an egress sample with only a `peer`.
     */
    events: z.array(z.union([FixtureEvent, FixtureHeartbeat, FixtureTick, VigieEvent])),
    /** Collectors the detector's configuration lists as expected. */
    expectedCollectors: z
      .array(
        z.object({ cluster: z.string().default('local'), collector: CollectorName, instance: z.string().optional() }),
      )
      .default([]),
    alerts: z.array(ExpectedAlert),
    /** Also require that no other rule raised anything. */
    onlyThisRule: z.boolean().default(false),
    /** Advance the clock to this instant (tick) after the events. */
    tickAt: z.string().optional(),
    /** What the store and the catalog remembered of the roles before the events (every cluster alike). */
    roleHistory: z
      .object({
        since: z.string().optional().describe('when the memory begins'),
        lastSeen: z.record(z.string(), z.string()).default({}).describe('role → last activity (ISO)'),
        catalog: z
          .record(z.string(), z.object({ firstListed: z.string(), validUntil: z.string().optional() }).strict())
          .default({})
          .describe('role → first catalog listing and rolvaliduntil (ISO)'),
      })
      .strict()
      .optional(),
  })
  .strict();
export type RuleFixture = z.infer<typeof RuleFixture>;

const FIRST_WORD_KIND: Record<string, string> = { start: 'begin', table: 'select', with: 'select', values: 'select' };

function inferReads(sql: string): string[] {
  const out: string[] = [];
  const re = /\b(?:from|join|copy|lock\s+table|lock)\s+(?:only\s+)?([a-z_][\w.]*)/gi;
  for (let m = re.exec(sql); m !== null; m = re.exec(sql)) {
    const name = (m[1] as string).toLowerCase();
    if (!['table', 'only', 'stdin'].includes(name)) out.push(name);
  }
  return out;
}

function statementOf(
  e: z.infer<typeof FixtureEvent>,
  sql: string,
): Omit<StatementEvent, 'v' | 'id' | 'cluster' | 'ts' | 'session'> {
  const word = (/^\s*\(?\s*([a-z]+)/i.exec(sql)?.[1] ?? 'other').toLowerCase();
  const kind = FIRST_WORD_KIND[word] ?? word;
  const reads = e.reads ?? (kind === 'set' || kind === 'begin' ? [] : inferReads(sql));
  const copyTo = /\bTO\s+(STDOUT|PROGRAM|'[^']*'|\$\d+)/i.exec(sql);
  const copyFrom = /\bFROM\s+STDIN\b/i.test(sql);
  const copy =
    kind !== 'copy'
      ? undefined
      : copyFrom
        ? { direction: 'from' as const, target: 'stdin' as const, hasQuery: false, relation: reads[0] }
        : {
            direction: 'to' as const,
            target: (copyTo?.[1]?.toUpperCase() === 'STDOUT'
              ? 'stdout'
              : copyTo?.[1]?.toUpperCase() === 'PROGRAM'
                ? 'program'
                : 'file') as 'stdout' | 'program' | 'file',
            hasQuery: /^\s*copy\s*\(/i.test(sql),
            ...(/^\s*copy\s*\(/i.test(sql) ? {} : { relation: reads[0] }),
          };
  const cls = ['select', 'copy', 'fetch', 'declare'].includes(kind)
    ? 'READ'
    : ['insert', 'update', 'delete'].includes(kind)
      ? 'WRITE'
      : 'MISC';
  return {
    kind: 'statement',
    audit: {
      auditTypes: ['SESSION'],
      statementId: 1,
      substatementId: 1,
      class: cls,
      command: kind.toUpperCase(),
      objects: reads.map((name) => ({ type: 'TABLE', name })),
      parameterCount: 0,
      ...(e.rows !== undefined && { rows: e.rows }),
    },
    ...(e.role !== undefined && { effectiveRole: e.role }),
    ...(e.txid !== undefined && { txid: e.txid }),
    sql: {
      kind,
      reads,
      writes: [],
      hasWhere: /\bwhere\b/i.test(sql),
      hasLimit: /\blimit\b/i.test(sql),
      ...(copy !== undefined && { copy }),
      functions: e.functions ?? [],
      dangerousFunctions: (e.functions ?? []).filter(isDangerousFunction),
      ...(e.settings !== undefined && { settings: e.settings }),
      ...(e.droppedExtensions !== undefined && { droppedExtensions: e.droppedExtensions }),
      redacted: sql.trim().replace(/;$/, ''),
      ...(e.privileges !== undefined && { privileges: e.privileges }),
      ...(e.remoteHosts !== undefined && { remoteHosts: e.remoteHosts }),
      ...(e.hiddenReads !== undefined && { hiddenReads: e.hiddenReads }),
      ...(e.paging !== undefined && { paging: e.paging }),
      ...(e.countOnly !== undefined && { countOnly: e.countOnly }),
    },
  };
}

/** One step of a fixture: an event to process, or a clock tick. */
export type FixtureStep = VigieEvent | { tick: number };

/**
 * Expands a fixture into contract events and ticks, in order, with deterministic ids (`<cluster>:<session>:<n>`).
 */
export function fixtureEvents(f: RuleFixture, cluster = 'local'): FixtureStep[] {
  const out: FixtureStep[] = [];
  const lines = new Map<string, number>();
  const sent = new Map<string, number>();
  for (const e of f.events) {
    if ('v' in e) {
      out.push(e);
      continue;
    }
    if ('tick' in e) {
      out.push({ tick: Date.parse(e.tick) });
      continue;
    }
    if ('heartbeat' in e) {
      const [collector, instance] = e.heartbeat.split(/\/(.*)/s) as [string, string];
      const identity = (alias: string, account: 'vigie' | 'setup') => {
        const s = f.sessions[alias];
        if (s === undefined) throw new Error(`fixture heartbeat names unknown session ${alias}`);
        return {
          role: s.user,
          applicationName: s.applicationName ?? '',
          clientAddr: s.clientAddr ?? 'local',
          replication: s.backendType === 'walsender',
          database: s.database,
          pid: parseInt(s.id.split('.')[1] ?? '0', 16),
          sessionId: s.id,
          account,
        };
      };
      for (let k = 0; k < (e.repeat ?? 1); k += 1) {
        out.push(
          collectorHeartbeat({
            cluster,
            collector: CollectorName.parse(collector),
            instance,
            at: new Date(Date.parse(e.at) + k * e.everyMs),
            health: e.health,
            accounts: e.accounts,
            identities: [
              ...(e.announces ?? []).map((a) => identity(a, 'vigie')),
              ...(e.setup ?? []).map((a) => identity(a, 'setup')),
            ],
          }),
        );
      }
      continue;
    }
    const s = f.sessions[e.s];
    if (s === undefined) throw new Error(`fixture event names unknown session ${e.s}`);
    const session: SessionInfo = {
      id: s.id,
      pid: parseInt(s.id.split('.')[1] ?? '0', 16),
      user: s.user,
      database: s.database,
      ...(s.clientAddr !== undefined && { clientAddr: s.clientAddr }),
      ...(s.applicationName !== undefined && { applicationName: s.applicationName }),
      backendType:
        s.backendType ?? (e.kind === 'replication.connection' || e.replication ? 'walsender' : 'client backend'),
    };
    const start = Date.parse(e.at);
    for (let k = 0; k < (e.repeat ?? 1); k += 1) {
      const n = (lines.get(s.id) ?? 0) + 1;
      lines.set(s.id, n);
      const base = {
        v: 1 as const,
        id: `${cluster}:${s.id}:${n}`,
        cluster,
        ts: new Date(start + k * e.everyMs).toISOString(),
        session,
      };
      if (e.sql !== undefined && e.logged === true) {
        out.push({ ...base, kind: 'statement.logged', sql: statementOf(e, e.sql).sql });
      } else if (e.sql !== undefined) out.push({ ...base, ...statementOf(e, e.sql) } as VigieEvent);
      else if (e.egress !== undefined) {
        const before = sent.get(s.id) ?? 0;
        const bytes = e.egress * (k + 1);
        sent.set(s.id, bytes);
        out.push({
          ...base,
          id: `${cluster}:${s.id}:egress:${n}`,
          kind: 'egress.sample',
          transport: 'tcp',
          bytesSent: bytes,
          bytesSentDelta: bytes - before,
          final: e.final ?? false,
        });
      } else if (e.replication !== undefined) {
        out.push({
          ...base,
          kind: 'replication.command',
          command: e.replication.split(/\s/)[0] ?? '',
          text: e.replication,
        });
      } else if (e.kind === 'session.end') out.push({ ...base, kind: 'session.end', durationMs: 1000 });
      else if (e.kind === 'auth.failure') {
        const { user, ...anonymous } = session;
        out.push({
          ...base,
          kind: 'auth.failure',
          ...(e.noSuchRole === true
            ? { session: anonymous, sqlstate: '28000', reason: 'role does not exist' }
            : { user, sqlstate: '28P01', reason: 'password authentication failed' }),
        });
      } else if (e.kind !== undefined) out.push({ ...base, kind: e.kind });
      else throw new Error(`fixture event at ${e.at} has nothing to emit`);
    }
  }
  return out;
}

/** The fixture's remembered role history, as the engine reads it. */
export function fixtureRoleHistory(f: RuleFixture): RoleHistory {
  const h = f.roleHistory;
  if (h === undefined) return NO_ROLE_HISTORY;
  return {
    lastSeen: (_cluster, role) => (h.lastSeen[role] === undefined ? undefined : Date.parse(h.lastSeen[role])),
    catalog(_cluster, role) {
      const c = h.catalog[role];
      if (c === undefined) return undefined;
      return {
        firstListedMs: Date.parse(c.firstListed),
        ...(c.validUntil !== undefined && { validUntilMs: Date.parse(c.validUntil) }),
      };
    },
    since: () => (h.since === undefined ? undefined : Date.parse(h.since)),
  };
}
