import { eventMs } from '../../engine/event-time.js';
import { Severity } from '@vigie/contract';
import { z } from 'zod';
import { alertId, maxSeverity } from '../../engine/alert-book.js';
import { defineRuleType } from '../rule-type.js';
import { atWhen, byWhom, fromWhere, humanCount, isPrivilegedSession, sessionSeed } from './common.js';

const Params = z
  .object({
    privilegedSeverity: Severity.default('critical').describe(
      'severity when the login or effective role is privileged (catalog + policy roles.privileged)',
    ),
    quietMinutes: z.number().positive().default(30).describe('resolve after this long without activity'),
  })
  .strict();

/**
 * `bastion-bypass`: a session of a human role (the login is neither a policy service account nor one of Vigie's
 * accounts) from an address outside the policy's `bastion.networks`, whatever it reads. The policy's bastion
 * exceptions (role + network, until their expiry) exempt; an expired one does not, and the alert names it. Only
 * the login role and the client address decide (application_name is the client's to choose). One alert per
 * session, updated with its statement count; critical as soon as the session is privileged.
 */
export const bastionBypass = defineRuleType(Params, (base, p) => {
  const quietMs = p.quietMinutes * 60_000;
  return {
    ...base,
    type: 'bastion-bypass',
    quietMs,
    onEvent(event, session, ctx) {
      if (event.kind !== 'session.start' && event.kind !== 'statement') return;
      if (session?.clientClass !== 'non-bastion' || session.clientAddr === undefined) return;
      const login = session.login;
      if (login === undefined || ctx.policy.isServiceAccount(login) || ctx.policy.isVigieAccount(login)) return;
      const tsMs = eventMs(event);
      const exception = ctx.policy.bastionException(login, session.clientAddr, tsMs);
      if (exception !== undefined && !exception.expired) return;
      const privileged = isPrivilegedSession(session, ctx);
      const severity = privileged ? maxSeverity(base.severity, p.privilegedSeverity) : base.severity;
      const id = alertId(base.id, session.cluster, session.id);
      ctx.alerts.update(
        sessionSeed(base, session, ctx, event, { id, severity, quietMs }),
        id,
        (i) => {
          i.alert.severity = maxSeverity(i.alert.severity, severity);
          i.alert.who.privileged = privileged || i.alert.who.privileged === true;
          if (session.effectiveRole !== undefined) i.alert.who.effectiveRole = session.effectiveRole;
          if (event.kind === 'statement') i.alert.what.statements = (i.alert.what.statements ?? 0) + 1;
          if (exception !== undefined) {
            i.facts['exception'] = exception.name;
            i.facts['expired'] = new Date(exception.expiresMs).toISOString();
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
      return `${who} ${byWhom(alert)} ${fromWhere(alert)} ${atWhen(alert, timeZone)}: direct access bypassing the bastion, ${humanCount(n)} statement${n === 1 ? '' : 's'} so far${expired}`;
    },
  };
});
