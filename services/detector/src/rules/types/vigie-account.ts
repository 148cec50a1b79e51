import type { Alert, VigieEvent } from '@vigie/contract';
import { z } from 'zod';
import {
  addTables,
  alertId,
  type Evidence,
  eventMs,
  type RuleContext,
  type SessionState,
  ALL_EVENT_KINDS,
} from '../../engine/rule-api.js';
import { defineRuleType } from '../rule-type.js';
import { atWhen, fromWhere, humanCount, personalTables, sessionSeed, tableList } from './common.js';

const Params = z
  .object({
    graceSeconds: z
      .number()
      .positive()
      .default(90)
      .describe(
        'how long a session of a Vigie account may wait for the component that opened it to announce it (heartbeat period + delivery); unannounced after that, it is misuse',
      ),
    immediateCommands: z
      .array(z.string())
      .default(['BASE_BACKUP'])
      .describe('replication commands Vigie never sends: the session is misuse at once'),
    quietMinutes: z.number().positive().default(30).describe('resolve after this long without activity'),
    maxPending: z
      .number()
      .int()
      .positive()
      .default(10_000)
      .describe('sessions waiting for their announcement at once (the oldest is judged first beyond)'),
  })
  .strict();

/** What made a session misuse; several can hold. */
type Signal = 'not-announced' | 'personal-data' | 'copy-out' | 'replication-command';

const SIGNAL_TEXT: Record<Signal, string> = {
  'not-announced': 'no Vigie component opened it',
  'personal-data': 'it read personal data',
  'copy-out': 'it copied data out (COPY … TO)',
  'replication-command': 'it ran a replication command Vigie never sends',
};

/** A session of a Vigie account not (yet) announced: what it did meanwhile. */
interface Pending {
  session: SessionState;
  first: VigieEvent;
  deadlineMs: number;
  statements: number;
  tables: Set<string>;
  signals: Set<Signal>;
  evidence: Evidence[];
  commands: Set<string>;
}

/**
 * `vigie-account`: a session of one of Vigie's accounts (listed in `roles.vigie`, or announced by a collector) that
 * is not one of Vigie's own sessions — another host, another program, an interactive client, a base backup, a read
 * of personal data. A stolen collector password is how an intruder would hide, so it is critical. Sessions doing
 * what Vigie never does (personal data, COPY TO, BASE_BACKUP) alert at once; any other waits `graceSeconds` for
 * the announcement of the component that opened it (its heartbeat lists the session id) and alerts without one.
 * One alert per session, updated with what it does.
 */
export const vigieAccount = defineRuleType(Params, (base, p) => {
  const quietMs = p.quietMinutes * 60_000;
  const graceMs = p.graceSeconds * 1000;
  const immediate = new Set(p.immediateCommands.map((c) => c.toUpperCase()));
  const pending = new Map<string, Pending>();
  /** Sessions already judged misuse (session key → alert id): their later events update the alert directly. */
  const confirmed = new Map<string, string>();

  function observe(state: Pending, event: VigieEvent, ctx: RuleContext): void {
    const tsMs = eventMs(event);
    if (event.kind === 'statement') {
      state.statements += 1;
      const tables = personalTables(event, ctx.policy);
      for (const t of tables) state.tables.add(t);
      if (tables.length > 0) state.signals.add('personal-data');
      if (event.sql.copy?.direction === 'to') state.signals.add('copy-out');
    } else if (event.kind === 'replication.command') {
      state.commands.add(event.command.toUpperCase());
      if (immediate.has(event.command.toUpperCase())) state.signals.add('replication-command');
    }
    state.evidence.push({
      eventId: event.id,
      tsMs,
      statement: event.kind === 'statement' ? event.sql.redacted : undefined,
    });
    if (state.evidence.length > 20) state.evidence.shift();
  }

  function raise(state: Pending, ctx: RuleContext): void {
    const s = state.session;
    const id = alertId(base.id, s.cluster, s.id);
    const [last, ...earlier] = [...state.evidence].reverse();
    if (last === undefined) return;
    confirmed.set(s.key, id);
    ctx.alerts.update(
      sessionSeed(base, s, ctx, state.first, { id, severity: base.severity, quietMs }),
      id,
      (i) => {
        const before = String(i.facts['signals'] ?? '');
        const signals = new Set([...before.split(',').filter((x) => x !== ''), ...state.signals]);
        i.facts['signals'] = [...signals].sort().join(',');
        if (state.commands.size > 0) i.facts['commands'] = [...state.commands].sort().join(',');
        i.alert.what.statements = (i.alert.what.statements ?? 0) + state.statements;
        addTables(i.alert, state.tables);
        for (const e of earlier.reverse()) {
          if (!i.alert.evidence.eventIds.includes(e.eventId)) i.alert.evidence.eventIds.push(e.eventId);
          if (e.statement !== undefined) i.alert.evidence.statements.push(e.statement);
        }
        i.alert.evidence.eventIds.splice(0, Math.max(0, i.alert.evidence.eventIds.length - 19));
        i.alert.evidence.statements.splice(0, Math.max(0, i.alert.evidence.statements.length - 19));
        // A new reason is news for on-call (the session went from unannounced to reading personal data).
        if (before !== i.facts['signals']) i.emitted = undefined;
      },
      last,
    );
  }

  return {
    ...base,
    type: 'vigie-account',
    // Every event of a session of a Vigie account is a clue (its first one starts the grace period).
    kinds: ALL_EVENT_KINDS,
    scope: 'vigie-accounts',
    quietMs,
    onEvent(event, session, ctx) {
      if (session === undefined) return;
      const fresh = (): Pending => ({
        session,
        first: event,
        deadlineMs: ctx.arrivedMs + graceMs,
        statements: 0,
        tables: new Set(),
        signals: new Set(),
        evidence: [],
        commands: new Set(),
      });
      if (confirmed.has(session.key)) {
        const now = fresh();
        observe(now, event, ctx);
        raise(now, ctx);
        return;
      }
      let state = pending.get(session.key);
      if (state === undefined) {
        if (pending.size >= p.maxPending) {
          // Judge the oldest now rather than drop it: forgetting a session would let it pass unseen.
          const [key, oldest] = pending.entries().next().value as [string, Pending];
          pending.delete(key);
          if (!ctx.self.isOwn(key, oldest.session.login) && ctx.self.enabled) {
            oldest.signals.add('not-announced');
            raise(oldest, ctx);
          }
        }
        state = fresh();
        pending.set(session.key, state);
      }
      observe(state, event, ctx);
      if (state.signals.size > 0) {
        pending.delete(session.key);
        raise(state, ctx);
      }
    },
    onTick(nowMs, ctx) {
      for (const [key, state] of pending) {
        if (ctx.self.isOwn(key, state.session.login)) {
          pending.delete(key);
        } else if (nowMs >= state.deadlineMs) {
          pending.delete(key);
          // Without announcements (a replay of server logs) nothing tells Vigie's sessions apart: only what
          // Vigie never does is reported, and it already was.
          if (!ctx.self.enabled) continue;
          state.signals.add('not-announced');
          raise(state, ctx);
        }
      }
      for (const [key, id] of confirmed) {
        const open = ctx.alerts.get(id);
        if (open === undefined || open.alert.status === 'resolved') confirmed.delete(key);
      }
    },
    onRestore(alert) {
      if (alert.sessionId !== undefined) confirmed.set(`${alert.cluster}/${alert.sessionId}`, alert.id);
    },
    summarize(alert, facts, timeZone) {
      return summarizeMisuse(alert, facts, timeZone);
    },
  };
});

function summarizeMisuse(alert: Alert, facts: Record<string, string | number | boolean>, timeZone: string): string {
  const signals = String(facts['signals'] ?? '')
    .split(',')
    .filter((s): s is Signal => s in SIGNAL_TEXT);
  const who = alert.who.login ?? alert.who.effectiveRole ?? 'an unknown role';
  const app = alert.where.applicationName ? `, application "${alert.where.applicationName}"` : '';
  const reasons = signals.map((s) =>
    s === 'personal-data' && alert.what.tables.length > 0
      ? `it read personal data (${tableList(alert.what.tables)})`
      : s === 'replication-command' && facts['commands'] !== undefined
        ? `it ran ${String(facts['commands'])}, which Vigie never sends`
        : SIGNAL_TEXT[s],
  );
  const n = alert.what.statements ?? 0;
  const statements = n > 0 ? `; ${humanCount(n)} statement${n === 1 ? '' : 's'}` : '';
  return `session of Vigie's own account ${who} ${fromWhere(alert)}${app} ${atWhen(alert, timeZone)} is not Vigie: ${reasons.join(', ') || 'not announced'}${statements} — a stolen Vigie password?`;
}
