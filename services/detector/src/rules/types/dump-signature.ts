import {
  eventMs,
  addTables,
  alertId,
  maxSeverity,
  type RuleContext,
  type SessionState,
  createSequence,
  type SequenceProgress,
  type SequenceStep,
} from '../../engine/rule-api.js';
import type { StatementEvent, VigieEvent } from '@vigie/contract';
import { Severity } from '@vigie/contract';
import { z } from 'zod';
import { defineRuleType } from '../rule-type.js';
import {
  atWhen,
  byWhom,
  fromWhere,
  humanBytes,
  humanCount,
  personalTables,
  qualify,
  sessionSeed,
  severityByPlace,
  tableList,
} from './common.js';

const Step = z
  .object({
    name: z.string().min(1),
    sqlKinds: z.array(z.string()).optional().describe('statement kinds (libs/sql): set, begin, lock, copy, declare…'),
    pattern: z.string().optional().describe('regular expression (case-insensitive) on the redacted statement'),
    copyTo: z
      .array(z.enum(['stdout', 'file', 'program']))
      .optional()
      .describe('a COPY … TO one of these'),
  })
  .strict();
type Step = z.infer<typeof Step>;

const PG_DUMP_STEPS: Step[] = [
  {
    name: 'session-settings',
    sqlKinds: ['set'],
    pattern: '\\b(extra_float_digits|synchronize_seqscans|row_security)\\b',
  },
  { name: 'snapshot', pattern: 'ISOLATION\\s+LEVEL\\s+(REPEATABLE\\s+READ|SERIALIZABLE)[\\s,]+READ\\s+ONLY' },
  { name: 'lock-access-share', sqlKinds: ['lock'], pattern: 'IN\\s+ACCESS\\s+SHARE\\s+MODE' },
  // COPY … TO stdout per table; `--inserts` reads through a cursor named _pg_dump_cursor instead.
  { name: 'copy-out', copyTo: ['stdout'] },
];

const Params = z
  .object({
    steps: z
      .array(Step)
      .min(2)
      .default(PG_DUMP_STEPS)
      .describe('the dump signature, in order; the last step repeats per table'),
    cursorPattern: z
      .string()
      .default('_pg_dump_cursor')
      .describe('a statement matching this (FETCH/DECLARE of pg_dump --inserts) counts as the last step'),
    minSteps: z.number().int().min(2).default(3).describe('steps matched (including the last) to call it a dump'),
    outsideBastionSeverity: Severity.default('critical').describe('severity when the client is not the bastion'),
    copyOutsideDump: z
      .object({
        enabled: z.boolean().default(true),
        targets: z.array(z.enum(['stdout', 'file', 'program'])).default(['stdout', 'file', 'program']),
        /** Server-side files and programs need superuser-level rights and leave no trace client-side. */
        serverSideSeverity: Severity.default('critical'),
      })
      .prefault({})
      .describe('COPY … TO of a personal-data table in a session that is not a dump'),
    passwordHashes: z
      .object({
        enabled: z.boolean().default(true),
        relations: z.array(z.string()).default(['pg_authid', 'pg_catalog.pg_authid']),
        pattern: z
          .string()
          .default('rolpassword|\\*')
          .describe('and the statement matches this (the hash column, or SELECT *): reading role names is not it'),
        severity: Severity.default('critical'),
      })
      .prefault({})
      .describe('reads of the password hashes (pg_dumpall reads pg_authid.rolpassword)'),
    walsender: z
      .object({
        enabled: z.boolean().default(true),
        commands: z.array(z.string()).default(['BASE_BACKUP', 'START_REPLICATION']),
        severity: Severity.default('critical'),
        connectionSeverity: Severity.default('warning'),
      })
      .prefault({})
      .describe('walsender sessions (pg_basebackup, physical streaming) from hosts that are not declared replicas'),
    quietMinutes: z.number().positive().default(30).describe('resolve after this long without activity'),
  })
  .strict();

interface DumpState {
  progress: SequenceProgress;
}

function compileStep(s: Step): SequenceStep<StatementEvent> {
  const kinds = s.sqlKinds === undefined ? undefined : new Set(s.sqlKinds);
  const re = s.pattern === undefined ? undefined : new RegExp(s.pattern, 'i');
  const targets = s.copyTo === undefined ? undefined : new Set<string>(s.copyTo);
  return {
    name: s.name,
    test(e) {
      if (kinds !== undefined && !kinds.has(e.sql.kind)) return false;
      if (targets !== undefined) {
        const c = e.sql.copy;
        if (c === undefined || c.direction !== 'to' || !targets.has(c.target)) return false;
      }
      return re === undefined || re.test(e.sql.redacted);
    },
  };
}

function copiedTables(e: StatementEvent): string[] {
  const rel = e.sql.copy?.relation;
  if (rel !== undefined) return [qualify(rel)];
  return e.sql.reads.map(qualify);
}

/**
 * `dump-signature`: a pg_dump/pg_dumpall session recognised by what it does (never by application_name), one
 * alert per session updated as the dump proceeds; also COPY TO of personal data outside a dump, reads of password
 * hashes, and walsender sessions from hosts that are not declared replicas. All share the id
 * `<rule>:<cluster>:<session>`.
 */
export const dumpSignature = defineRuleType(Params, (base, p) => {
  const cursorRe = new RegExp(p.cursorPattern, 'i');
  const steps = p.steps.map(compileStep);
  const last = steps.length - 1;
  const finalStep = steps[last] as SequenceStep<StatementEvent>;
  steps[last] = { name: finalStep.name, test: (e) => finalStep.test(e) || cursorRe.test(e.sql.redacted) };
  const sequence = createSequence(steps);
  const authid = new Set(p.passwordHashes.relations);
  const authidRe = new RegExp(p.passwordHashes.pattern, 'i');
  const copyTargets = new Set<string>(p.copyOutsideDump.targets);
  const walCommands = new Set(p.walsender.commands.map((c) => c.toUpperCase()));
  const quietMs = p.quietMinutes * 60_000;

  function open(
    session: SessionState,
    ctx: RuleContext,
    event: VigieEvent,
    severity: Severity,
    mutate: (facts: Record<string, string | number | boolean>) => void,
    extra: { tables?: string[]; rows?: number; statement?: string } = {},
  ): void {
    const id = alertId(base.id, session.cluster, session.id);
    ctx.alerts.update(
      sessionSeed(base, session, ctx, event, { id, severity, quietMs }),
      id,
      (i) => {
        i.alert.severity = maxSeverity(i.alert.severity, severity);
        mutate(i.facts);
        if (extra.tables !== undefined) addTables(i.alert, extra.tables);
        if (extra.rows !== undefined && extra.rows > 0) i.alert.what.rows = (i.alert.what.rows ?? 0) + extra.rows;
        if (event.kind === 'statement') i.alert.what.statements = (i.alert.what.statements ?? 0) + 1;
        if (event.kind === 'egress.sample') i.alert.what.bytes = Math.max(i.alert.what.bytes ?? 0, event.bytesSent);
      },
      { eventId: event.id, tsMs: eventMs(event), statement: extra.statement },
    );
  }

  function onStatement(e: StatementEvent, session: SessionState, ctx: RuleContext): void {
    const placeSeverity = severityByPlace(base.severity, p.outsideBastionSeverity, session.clientClass);
    let state = session.rules.get(base.id) as DumpState | undefined;
    if (state === undefined) {
      state = { progress: sequence.start() };
      session.rules.set(base.id, state);
    }
    const r = sequence.feed(state.progress, e);
    const known = ctx.claimed(session.key);
    if (r.final && (known || state.progress.matched.length >= p.minSteps)) {
      ctx.claimSession(session.key);
      open(
        session,
        ctx,
        e,
        placeSeverity,
        (f) => {
          f['mode'] = 'dump';
          f['signature'] = state.progress.matched.join(' → ');
        },
        { tables: copiedTables(e), rows: e.audit.rows, statement: e.sql.redacted },
      );
      return;
    }
    if (p.passwordHashes.enabled && e.sql.reads.some((r2) => authid.has(r2)) && authidRe.test(e.sql.redacted)) {
      open(
        session,
        ctx,
        e,
        p.passwordHashes.severity,
        (f) => {
          f['passwordHashes'] = true;
          f['mode'] ??= 'dumpall';
        },
        { tables: ['pg_catalog.pg_authid'], statement: e.sql.redacted },
      );
      return;
    }
    const c = e.sql.copy;
    if (p.copyOutsideDump.enabled && c !== undefined && c.direction === 'to' && copyTargets.has(c.target)) {
      const tables = personalTables(e, ctx.policy);
      if (tables.length === 0) return;
      const serverSide = c.target !== 'stdout';
      const severity = serverSide ? maxSeverity(placeSeverity, p.copyOutsideDump.serverSideSeverity) : placeSeverity;
      open(
        session,
        ctx,
        e,
        severity,
        (f) => {
          f['mode'] ??= 'copy';
          f['copyTarget'] = c.target;
        },
        { tables, rows: e.audit.rows, statement: e.sql.redacted },
      );
    }
  }

  return {
    ...base,
    type: 'dump-signature',
    kinds: ['statement', 'egress.sample', 'replication.connection', 'replication.command'],
    claims: 'session',
    quietMs,
    onEvent(event, session, ctx) {
      if (session === undefined) return;
      switch (event.kind) {
        case 'statement':
          onStatement(event, session, ctx);
          return;
        case 'egress.sample':
          // Bytes sent make a dump's size visible even when pgaudit logs 0 rows for COPY.
          if (ctx.alerts.get(alertId(base.id, session.cluster, session.id)) !== undefined)
            open(session, ctx, event, base.severity, () => undefined);
          return;
        case 'replication.connection':
        case 'replication.command': {
          if (!p.walsender.enabled || ctx.policy.isReplicaHost(session.cluster, session.clientAddr)) return;
          const isCommand = event.kind === 'replication.command';
          if (isCommand && !walCommands.has(event.command.toUpperCase())) return;
          open(
            session,
            ctx,
            event,
            isCommand ? p.walsender.severity : p.walsender.connectionSeverity,
            (f) => {
              f['mode'] = 'walsender';
              if (isCommand) f['command'] = event.command.toUpperCase();
            },
            { statement: isCommand ? event.text : undefined },
          );
          return;
        }
        default:
      }
    },
    summarize(alert, facts, timeZone) {
      const db = alert.database ?? '?';
      const n = alert.what.tables.length;
      const amount = [
        `${n} table${n === 1 ? '' : 's'}`,
        ...(alert.what.rows !== undefined ? [`${humanCount(alert.what.rows)} rows`] : []),
        ...(alert.what.bytes !== undefined ? [humanBytes(alert.what.bytes)] : []),
      ].join(', ');
      const tail = `${byWhom(alert)} ${fromWhere(alert)} ${atWhen(alert, timeZone)}`;
      const app = alert.where.applicationName;
      const renamed = app !== undefined && !/^pg_dump/.test(app) ? ` (application_name "${app}")` : '';
      switch (facts['mode']) {
        case 'walsender':
          return `${String(facts['command'] ?? 'walsender session')} (physical copy of the cluster, e.g. pg_basebackup) ${tail}; the host is not a declared replica`;
        case 'copy':
          return `COPY TO ${String(facts['copyTarget'] ?? 'stdout')} of ${tableList(alert.what.tables)} in ${db}${alert.what.rows ? ` (${humanCount(alert.what.rows)} rows)` : ''} ${tail}`;
        case 'dumpall':
          return `password hashes read from pg_authid (pg_dumpall?) ${tail}`;
        case 'dump':
          return `pg_dump of ${db}${renamed} (${amount})${facts['passwordHashes'] === true ? ' including password hashes' : ''} ${tail}`;
        default:
          // Restored after a restart: the facts are gone, the counts are not.
          return `dump of ${db} (${amount}) ${tail}`;
      }
    },
  };
});
