import { eventMs, alertId, maxSeverity, type RuleContext, type SessionState } from '../../engine/rule-api.js';
import type { StatementEvent } from '@vigie/contract';
import { Severity } from '@vigie/contract';
import { patternMatcher } from '@vigie/policy';
import { z } from 'zod';
import { defineRuleType } from '../rule-type.js';
import { atWhen, countUpdateDue, byWhom, fromWhere, isPrivilegedSession, sessionSeed } from './common.js';

const Params = z
  .object({
    applications: z
      .array(z.string().min(1))
      .default(['psql', 'pgAdmin*', 'DBeaver*', 'DataGrip*', 'pgcli', 'Navicat*', 'TablePlus*', 'HeidiSQL*'])
      .describe('application_name patterns of interactive clients (a hint only: the client chooses it)'),
    catalogShapes: z
      .array(z.string().min(1))
      .default(['OPERATOR\\(pg_catalog\\.~\\)', 'pg_catalog\\.pg_table_is_visible\\(', 'pg_catalog\\.quote_ident\\('])
      .describe(
        "regular expressions (case-insensitive) of catalog queries only an interactive client sends: psql's \\d describe queries and tab completion",
      ),
    humanPace: z
      .object({
        minGapSeconds: z.number().positive().default(2).describe('a pause a person takes between two statements'),
        maxGapMinutes: z.number().positive().default(15).describe('longer pauses do not count (idle session)'),
        pauses: z.number().int().positive().default(4).describe('human pauses that make a session interactive'),
        distinctShapes: z
          .number()
          .int()
          .positive()
          .default(4)
          .describe('statement shapes (fingerprints) a session must vary over: ad-hoc work, not a job loop'),
      })
      .prefault({})
      .describe('statements spaced at human pace with ad-hoc variety'),
    outsideBastion: z.boolean().default(true).describe('any session of a generic account from outside the bastion'),
    privilegedSeverity: Severity.default('critical').describe('severity when the generic account is privileged'),
    quietMinutes: z.number().positive().default(30).describe('resolve after this long without activity'),
  })
  .strict();

/** Why a session is interactive, in the order they are told. */
type Reason = 'application' | 'catalog-query' | 'human-pace' | 'outside-bastion';

const REASON_TEXT: Record<Reason, string> = {
  application: 'interactive client name',
  'catalog-query': "an interactive client's catalog queries",
  'human-pace': 'statements at human pace',
  'outside-bastion': 'outside the bastion',
};

interface PaceState {
  lastMs?: number;
  pauses: number;
  shapes: Set<string>;
  reasons: Set<Reason>;
  statements: number;
  /** Reasons the incident was last updated with, and when (event time). */
  told: number;
  updatedMs: number;
}

/** Distinct shapes remembered per session: enough to tell variety, bounded whatever the session runs. */
const SHAPES_CAP = 64;

/**
 * `generic-account-interactive`: a shared account of the policy's `roles.generic` (the login) used by a person:
 * an interactive client recognised by its catalog queries (psql's `\d`), by statements at human pace over varied
 * shapes, or by its application_name (a hint, never needed: behaviour raises it alone), or any session of it from
 * outside the bastion. One alert per session, listing the reasons seen.
 */
export const genericInteractive = defineRuleType(Params, (base, p) => {
  const quietMs = p.quietMinutes * 60_000;
  const isInteractiveApp = patternMatcher(p.applications);
  const shapes = p.catalogShapes.map((s) => new RegExp(s, 'i'));
  const minGapMs = p.humanPace.minGapSeconds * 1000;
  const maxGapMs = p.humanPace.maxGapMinutes * 60_000;

  /** The session's state, or false when its login is not a generic account (decided at its first event). */
  function stateOf(session: SessionState, ctx: RuleContext): PaceState | false {
    const known = session.rules.get(base.id) as PaceState | false | undefined;
    if (known !== undefined) return known;
    const login = session.login;
    const s: PaceState | false =
      login !== undefined && ctx.policy.isGenericAccount(login)
        ? { pauses: 0, shapes: new Set(), reasons: new Set(), statements: 0, told: 0, updatedMs: -Infinity }
        : false;
    session.rules.set(base.id, s);
    return s;
  }

  /** What this statement adds to the session's case. */
  function observe(s: PaceState, e: StatementEvent, tsMs: number): void {
    if (shapes.some((re) => re.test(e.sql.redacted))) s.reasons.add('catalog-query');
    const shape = e.sql.fingerprint ?? e.sql.redacted;
    if (s.shapes.size < SHAPES_CAP) s.shapes.add(shape);
    // pgaudit logs one line per relation of a statement: only a statement's first line moves the pace clock.
    if (e.audit.substatementId <= 1 && s.lastMs !== undefined) {
      const gap = tsMs - s.lastMs;
      if (gap >= minGapMs && gap <= maxGapMs) s.pauses += 1;
    }
    if (e.audit.substatementId <= 1) s.lastMs = tsMs;
    if (s.pauses >= p.humanPace.pauses && s.shapes.size >= p.humanPace.distinctShapes) s.reasons.add('human-pace');
  }

  return {
    ...base,
    type: 'generic-interactive',
    kinds: ['session.start', 'statement', 'session.end'],
    quietMs,
    onEvent(event, session, ctx) {
      if (event.kind !== 'session.start' && event.kind !== 'statement' && event.kind !== 'session.end') return;
      if (session === undefined) return;
      const s = stateOf(session, ctx);
      if (s === false) return;
      const tsMs = eventMs(event);
      if (session.applicationName !== undefined && isInteractiveApp(session.applicationName))
        s.reasons.add('application');
      if (p.outsideBastion && session.clientClass === 'non-bastion') s.reasons.add('outside-bastion');
      if (event.kind === 'statement') {
        s.statements += 1;
        observe(s, event, tsMs);
      }
      if (s.reasons.size === 0) return;
      // A new reason is news; statements only move a count (at most every minute, and at the session's end).
      const news = s.reasons.size !== s.told;
      if (!countUpdateDue(s, event, tsMs, news)) return;
      s.told = s.reasons.size;
      const privileged = isPrivilegedSession(session, ctx);
      const severity = privileged ? maxSeverity(base.severity, p.privilegedSeverity) : base.severity;
      const id = alertId(base.id, session.cluster, session.id);
      const reasons = (Object.keys(REASON_TEXT) as Reason[]).filter((r) => s.reasons.has(r));
      ctx.alerts.update(
        sessionSeed(base, session, ctx, event, { id, severity, quietMs }),
        id,
        (i) => {
          i.alert.severity = maxSeverity(i.alert.severity, severity);
          if (i.facts['reasons'] !== reasons.join(',')) i.news = true;
          i.facts['reasons'] = reasons.join(',');
          i.alert.what.statements = s.statements;
        },
        { eventId: event.id, tsMs, statement: event.kind === 'statement' ? event.sql.redacted : undefined },
      );
    },
    summarize(alert, facts, timeZone) {
      const reasons = String(facts['reasons'] ?? '')
        .split(',')
        .filter((r): r is Reason => r in REASON_TEXT)
        .map((r) => REASON_TEXT[r]);
      return `generic account used interactively ${byWhom(alert)} ${fromWhere(alert)} ${atWhen(alert, timeZone)}: ${reasons.join(', ')}; generic accounts name no person`;
    },
  };
});
