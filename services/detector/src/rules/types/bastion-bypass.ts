import { eventMs, alertId, maxSeverity, type RuleContext, type SessionState } from '../../engine/rule-api.js';
import { Severity } from '@vigie/contract';
import { networkMatcher } from '@vigie/policy';
import { z } from 'zod';
import { defineRuleType } from '../rule-type.js';
import {
  actingRole,
  atWhen,
  countUpdateDue,
  byWhom,
  fromWhere,
  humanCount,
  isPrivilegedSession,
  sessionSeed,
} from './common.js';

const Params = z
  .object({
    privilegedSeverity: Severity.default('critical').describe(
      'severity when the login or effective role is privileged (catalog + policy roles.privileged)',
    ),
    serviceAccounts: z
      .object({
        usualHosts: z
          .array(z.string())
          .default([])
          .describe(
            'CIDRs of the application servers: a service account connecting from elsewhere (its password on a workstation) is an alert too; empty: service accounts are left to the other rules',
          ),
      })
      .prefault({}),
    quietMinutes: z.number().positive().default(30).describe('resolve after this long without activity'),
  })
  .strict();

/** What the rule decided about a session: `false` when it is none of its business (decided at its first event). */
interface BypassState {
  statements: number;
  /** Event time of the incident's last update. */
  updatedMs: number;
  /** The acting role the privilege was judged for (it changes with SET ROLE). */
  judgedRole: string | undefined;
  privileged: boolean;
  exception?: { name: string; expiredMs: number };
}

/**
 * `bastion-bypass`: a session of a human role (the login is neither a policy service account — on its declared
 * application servers, when `serviceAccounts.usualHosts` lists them — nor one of Vigie's accounts) from an address outside the policy's `bastion.networks`, whatever it reads. The policy's bastion
 * exceptions (role + network, until their expiry) exempt; an expired one does not, and the alert names it. Only
 * the login role and the client address decide (application_name is the client's to choose), once per session at
 * its first event. One alert per session, counting its statements; critical as soon as the session is privileged.
 */
export const bastionBypass = defineRuleType(Params, (base, p) => {
  const quietMs = p.quietMinutes * 60_000;
  const appHosts = p.serviceAccounts.usualHosts;
  const usualHost = networkMatcher(appHosts);
  /** A service account is the rule's business only off the application servers a site declared. */
  const exemptService = (login: string, addr: string, ctx: RuleContext): boolean =>
    ctx.policy.isServiceAccount(login) && (appHosts.length === 0 || usualHost(addr));

  /** The session's state, or false when the rule has nothing to say about it. */
  function stateOf(session: SessionState, tsMs: number, ctx: RuleContext): BypassState | false {
    const known = session.rules.get(base.id) as BypassState | false | undefined;
    if (known !== undefined) return known;
    const login = session.login;
    let state: BypassState | false = false;
    if (
      session.clientClass === 'non-bastion' &&
      session.clientAddr !== undefined &&
      login !== undefined &&
      !exemptService(login, session.clientAddr, ctx) &&
      !ctx.policy.isVigieAccount(login)
    ) {
      const exception = ctx.policy.bastionException(login, session.clientAddr, tsMs);
      if (exception === undefined || exception.expired) {
        state = { statements: 0, updatedMs: -Infinity, judgedRole: undefined, privileged: false };
        if (exception !== undefined) state.exception = { name: exception.name, expiredMs: exception.expiresMs };
      }
    }
    session.rules.set(base.id, state);
    return state;
  }

  return {
    ...base,
    type: 'bastion-bypass',
    kinds: ['session.start', 'statement', 'session.end'],
    quietMs,
    onEvent(event, session, ctx) {
      if (event.kind !== 'session.start' && event.kind !== 'statement' && event.kind !== 'session.end') return;
      if (session === undefined) return;
      const tsMs = eventMs(event);
      const s = stateOf(session, tsMs, ctx);
      if (s === false) return;
      if (event.kind === 'statement') s.statements += 1;
      const role = actingRole(session);
      let changed = false;
      if (role !== s.judgedRole) {
        s.judgedRole = role;
        const privileged = isPrivilegedSession(session, ctx);
        changed = privileged && !s.privileged;
        s.privileged ||= privileged;
      }
      // Statements only move a count: the incident follows them at most every minute; a privilege change and its
      // end at once.
      if (!countUpdateDue(s, event, tsMs, changed)) return;
      const severity = s.privileged ? maxSeverity(base.severity, p.privilegedSeverity) : base.severity;
      const id = alertId(base.id, session.cluster, session.id);
      ctx.alerts.update(
        sessionSeed(base, session, ctx, event, { id, severity, quietMs }),
        id,
        (i) => {
          i.alert.severity = maxSeverity(i.alert.severity, severity);
          i.alert.who.privileged = s.privileged;
          if (session.effectiveRole !== undefined) i.alert.who.effectiveRole = session.effectiveRole;
          i.alert.what.statements = s.statements;
          if (s.exception !== undefined) {
            i.facts['exception'] = s.exception.name;
            i.facts['expired'] = new Date(s.exception.expiredMs).toISOString();
          }
        },
        { eventId: event.id, tsMs, statement: event.kind === 'statement' ? event.sql.redacted : undefined },
      );
    },
    summarize(alert, facts, timeZone) {
      const who = alert.who.privileged === true ? 'privileged session' : 'session';
      const n = alert.what.statements ?? 0;
      const expired =
        facts['exception'] === undefined
          ? ''
          : `; bastion exception "${String(facts['exception'])}" expired at ${String(facts['expired'])}`;
      return `${who} ${byWhom(alert)} ${fromWhere(alert)} ${atWhen(alert, timeZone)}: direct access bypassing the bastion, ${humanCount(n)} statement${n === 1 ? '' : 's'}${expired}`;
    },
  };
});
