import { eventMs, addTables, alertId } from '../../engine/rule-api.js';
import { z } from 'zod';
import { defineRuleType } from '../rule-type.js';
import { atWhen, byWhom, fromWhere, humanCount, personalTables, sessionSeed, tableList } from './common.js';

const Params = z
  .object({
    quietMinutes: z.number().positive().default(30).describe('resolve after this long without activity'),
  })
  .strict();

/**
 * `watchlist-session`: every session of a role in the policy's `roles.watchlist` (login, or effective role after
 * SET ROLE), whatever it does: one alert per session (the rule's severity, `info` as shipped) that counts its
 * statements and names the personal-data tables it touched, so the record of a leaver's last weeks is complete.
 */
export const watchlistSession = defineRuleType(Params, (base, p) => {
  const quietMs = p.quietMinutes * 60_000;
  return {
    ...base,
    type: 'watchlist-session',
    kinds: ['session.start', 'statement'],
    quietMs,
    onEvent(event, session, ctx) {
      if (session === undefined || (event.kind !== 'session.start' && event.kind !== 'statement')) return;
      const watched = [session.login, session.effectiveRole].some(
        (r) => r !== undefined && ctx.policy.isWatchlisted(r),
      );
      if (!watched) return;
      const id = alertId(base.id, session.cluster, session.id);
      ctx.alerts.update(
        sessionSeed(base, session, ctx, event, { id, severity: base.severity, quietMs }),
        id,
        (i) => {
          if (session.effectiveRole !== undefined) i.alert.who.effectiveRole = session.effectiveRole;
          if (event.kind !== 'statement') return;
          i.alert.what.statements = (i.alert.what.statements ?? 0) + 1;
          addTables(i.alert, personalTables(event, ctx.policy));
        },
        {
          eventId: event.id,
          tsMs: eventMs(event),
          statement: event.kind === 'statement' ? event.sql.redacted : undefined,
        },
      );
    },
    summarize(alert, _facts, timeZone) {
      const n = alert.what.statements ?? 0;
      const tables = alert.what.tables.length === 0 ? '' : `, personal data: ${tableList(alert.what.tables)}`;
      return `watchlisted role's session ${byWhom(alert)} ${fromWhere(alert)} ${atWhen(alert, timeZone)}: ${humanCount(n)} statement${n === 1 ? '' : 's'}${tables}`;
    },
  };
});
