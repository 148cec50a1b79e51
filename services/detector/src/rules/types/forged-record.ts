import { eventMs, alertId } from '../../engine/rule-api.js';
import { z } from 'zod';
import { defineRuleType } from '../rule-type.js';
import { atWhen, byWhom, fromWhere, humanCount, sessionSeed, sessionlessSeed } from './common.js';

const Params = z
  .object({
    quietMinutes: z
      .number()
      .positive()
      .default(60)
      .describe('resolve after this long without another forged record from the session'),
  })
  .strict();

const CLAIMS: Record<string, string> = {
  audit: 'pgaudit record',
  connection: 'connection record',
  disconnection: 'disconnection record',
  'replication-connection': 'replication connection record',
  'replication-command': 'replication command record',
};

/**
 * `forged-record`: a session wrote into the server log a record that pretends to be pgaudit's or a connection
 * lifecycle record (`RAISE LOG 'AUDIT: …SET ROLE vigie…'` from a DO block): the collector refused to act on it and
 * sent a `record.forged` event. Nobody does that by accident: one alert per session, updated with each record.
 */
export const forgedRecord = defineRuleType(Params, (base, p) => {
  const quietMs = p.quietMinutes * 60_000;
  return {
    ...base,
    type: 'forged-record',
    kinds: ['record.forged'],
    quietMs,
    onEvent(event, session, ctx) {
      if (event.kind !== 'record.forged') return;
      const tsMs = eventMs(event);
      const entity = session?.id ?? `record:${event.id}`;
      const id = alertId(base.id, event.cluster, entity);
      const over = { id, severity: base.severity, quietMs };
      const seed =
        session === undefined ? sessionlessSeed(base, event, over) : sessionSeed(base, session, ctx, event, over);
      const claimed =
        event.claimedCommand === undefined
          ? CLAIMS[event.claimed]
          : `${CLAIMS[event.claimed]} (${event.claimedCommand})`;
      ctx.alerts.update(
        seed,
        id,
        (i) => {
          i.alert.what.statements = (i.alert.what.statements ?? 0) + 1;
          const seen = String(i.facts['claims'] ?? '');
          const list = seen === '' ? [] : seen.split('; ');
          if (claimed !== undefined && !list.includes(claimed) && list.length < 5) list.push(claimed);
          i.facts['claims'] = list.join('; ');
          i.facts['reasons'] = event.reasons.join(', ');
        },
        { eventId: event.id, tsMs },
      );
    },
    summarize(alert, facts, timeZone) {
      const n = alert.what.statements ?? 1;
      const claims = String(facts['claims'] ?? 'an audit record');
      return `${humanCount(n)} forged log record${n === 1 ? '' : 's'} (${claims}) written ${byWhom(alert)} ${fromWhere(alert)} ${atWhen(alert, timeZone)}: not the server's own (${String(facts['reasons'] ?? '')}); ignored, the session is still analysed`;
    },
  };
});
