import {
  eventMs,
  alertId,
  maxSeverity,
  type IncidentSeed,
  type RuleContext,
  type SessionState,
  createSlidingWindow,
} from '../../engine/rule-api.js';
import type { EgressSampleEvent, Severity, VigieEvent } from '@vigie/contract';
import { normalizeAddress } from '@vigie/policy';
import { z } from 'zod';
import { defineRuleType, type RuleBase } from '../rule-type.js';
import { atWhen, byWhom, fromWhere, humanBytes, humanCount, sessionSeed, sessionlessSeed } from './common.js';

/** Seed of a host incident raised by bytes of connections with no session: the address is all that is known. */
function peerSeed(
  base: RuleBase,
  event: VigieEvent,
  ctx: RuleContext,
  id: string,
  severity: Severity,
  quietMs: number,
): () => IncidentSeed {
  const addr = event.kind === 'egress.sample' ? event.peer?.addr : undefined;
  return sessionlessSeed(base, event, {
    id,
    severity,
    quietMs,
    where: { clientAddr: addr, clientClass: ctx.policy.clientClass(addr) },
  });
}

const Params = z
  .object({
    sessionBytes: z.number().int().positive().default(50_000_000).describe('bytes sent to one session'),
    host: z
      .object({
        bytes: z.number().int().positive().default(200_000_000),
        windowMinutes: z.number().positive().default(60),
      })
      .prefault({})
      .describe('bytes sent to one client host (all its sessions) within the window'),
    fallbackRows: z
      .number()
      .int()
      .positive()
      .default(500_000)
      .describe('rows read by a session with no egress sample (no egress collector) that stand in for bytes'),
    criticalFactor: z.number().positive().default(10).describe('critical at this multiple of a threshold'),
    quietMinutes: z.number().positive().default(30).describe('resolve after this long without traffic'),
  })
  .strict();

interface EgressState {
  bytes: number;
  rows: number;
  sawEgress: boolean;
}

/**
 * `egress-volume`: bytes sent to a client outside the bastion, per session and per host over a window (from
 * `egress.sample`); for a session with no egress sample, the rows it read stand in.
 */
export const egressVolume = defineRuleType(Params, (base, p) => {
  const quietMs = p.quietMinutes * 60_000;
  const hostWindowMs = p.host.windowMinutes * 60_000;
  const hostBytes = createSlidingWindow({ windowMs: hostWindowMs });
  const hostIncidents = new Map<string, string>();

  function severityFor(amount: number, threshold: number): Severity {
    return amount >= threshold * p.criticalFactor ? maxSeverity(base.severity, 'critical') : base.severity;
  }

  function raise(
    session: SessionState | undefined,
    ctx: RuleContext,
    event: VigieEvent,
    id: string,
    severity: Severity,
    bySession: boolean,
    apply: (
      what: { bytes?: number; rows?: number; statements?: number },
      facts: Record<string, string | number | boolean>,
    ) => void,
    quiet: number,
  ): void {
    const seed =
      session === undefined
        ? peerSeed(base, event, ctx, id, severity, quiet)
        : sessionSeed(base, session, ctx, event, { id, severity, quietMs: quiet });
    ctx.alerts.update(
      bySession ? seed : () => ({ ...seed(), sessionId: undefined, sessionKey: undefined }),
      id,
      (i) => {
        i.alert.severity = maxSeverity(i.alert.severity, severity);
        apply(i.alert.what, i.facts);
      },
      {
        eventId: event.id,
        tsMs: eventMs(event),
        statement: event.kind === 'statement' ? event.sql.redacted : undefined,
      },
    );
  }

  /**
   * Adds a sample's delta to its host's window and raises or updates the host incident when the window passes
   * the host threshold (or `force`: an unjoined connection over the session threshold has no session alert).
   */
  function onHostBytes(
    session: SessionState | undefined,
    ctx: RuleContext,
    event: EgressSampleEvent,
    address: string,
    toldBySession: (total: number) => boolean,
    force = false,
  ): void {
    const tsMs = eventMs(event);
    // One spelling per host, so a joined session's address and an unjoined socket's peer share one window.
    const host = normalizeAddress(address);
    const hostKey = `${event.cluster}/${host}`;
    if (event.bytesSentDelta === 0) return;
    const total = hostBytes.add(hostKey, tsMs, event.bytesSentDelta);
    let id = hostIncidents.get(hostKey);
    if (id !== undefined && ctx.alerts.get(id)?.alert.status !== 'firing') {
      hostIncidents.delete(hostKey);
      id = undefined;
    }
    if (id === undefined && !force && (total < p.host.bytes || toldBySession(total))) return;
    if (id === undefined) {
      id = alertId(base.id, event.cluster, `host/${host}`, hostBytes.windowStart(hostKey, tsMs) ?? tsMs);
      hostIncidents.set(hostKey, id);
    }
    const severity =
      total >= p.host.bytes ? severityFor(total, p.host.bytes) : severityFor(event.bytesSent, p.sessionBytes);
    raise(
      session,
      ctx,
      event,
      id,
      severity,
      false,
      (w, f) => {
        w.bytes = Math.max(w.bytes ?? 0, total);
        f['basis'] = 'host';
        f['windowMinutes'] = p.host.windowMinutes;
        if (session === undefined) f['unjoined'] = true;
      },
      hostWindowMs,
    );
  }

  return {
    ...base,
    type: 'egress-volume',
    kinds: ['egress.sample', 'statement'],
    quietMs,
    onEvent(event, session, ctx) {
      if (session === undefined) {
        // A connection the egress collector could not join to a session (opened and closed between two looks at
        // pg_stat_activity): its bytes still count for its host, which is all that is known about it.
        if (event.kind === 'egress.sample' && event.transport === 'tcp' && event.peer !== undefined) {
          onHostBytes(undefined, ctx, event, event.peer.addr, () => false, event.bytesSent >= p.sessionBytes);
        }
        return;
      }
      let state = session.rules.get(base.id) as EgressState | undefined;
      if (event.kind === 'egress.sample') {
        if (event.transport !== 'tcp') return;
        state ??= { bytes: 0, rows: 0, sawEgress: true };
        session.rules.set(base.id, state);
        state.sawEgress = true;
        state.bytes = Math.max(state.bytes, event.bytesSent);
        const sessionId = alertId(base.id, session.cluster, session.id);
        if (state.bytes >= p.sessionBytes || ctx.alerts.get(sessionId)?.alert.status === 'firing') {
          const bytes = state.bytes;
          raise(
            session,
            ctx,
            event,
            sessionId,
            severityFor(bytes, p.sessionBytes),
            true,
            (w, f) => {
              w.bytes = Math.max(w.bytes ?? 0, bytes);
              f['basis'] = 'bytes';
            },
            quietMs,
          );
        }
        // A single session over the session threshold already tells the story; the host alert is for many sessions.
        const sessionBytes = state.bytes;
        onHostBytes(session, ctx, event, session.clientAddr ?? 'unknown', (total) => sessionBytes >= total);
        return;
      }
      if (event.kind !== 'statement' || event.audit.rows === undefined || event.audit.rows === 0) return;
      if (event.sql.kind !== 'select' && event.sql.kind !== 'fetch' && event.audit.class !== 'READ') return;
      state ??= { bytes: 0, rows: 0, sawEgress: false };
      session.rules.set(base.id, state);
      state.rows += event.audit.rows;
      if (state.sawEgress || state.rows < p.fallbackRows) return;
      const rows = state.rows;
      raise(
        session,
        ctx,
        event,
        alertId(base.id, session.cluster, session.id),
        severityFor(rows, p.fallbackRows),
        true,
        (w, f) => {
          w.rows = Math.max(w.rows ?? 0, rows);
          w.statements = (w.statements ?? 0) + 1;
          f['basis'] ??= 'rows';
        },
        quietMs,
      );
    },
    onTick(nowMs) {
      hostBytes.prune(nowMs);
    },
    summarize(alert, facts, timeZone) {
      const tail = `${fromWhere(alert)} ${atWhen(alert, timeZone)}`;
      switch (facts['basis']) {
        case 'host': {
          const head = `${humanBytes(alert.what.bytes ?? 0)} sent to ${alert.where.clientAddr ?? '?'} (not the bastion) within ${String(facts['windowMinutes'])} min`;
          // No session at all: the connections closed before the egress collector could name them.
          if (alert.who.login === undefined && facts['unjoined'] === true)
            return `${head}, over connections not joined to a session (short-lived) ${atWhen(alert, timeZone)}`;
          return `${head}, several sessions, latest ${byWhom(alert)} ${atWhen(alert, timeZone)}`;
        }
        case 'rows':
          return `${humanCount(alert.what.rows ?? 0)} rows read (no egress counters for this session) ${byWhom(alert)} ${tail}`;
        default:
          return `${humanBytes(alert.what.bytes ?? 0)} sent to one session ${byWhom(alert)} ${tail}`;
      }
    },
  };
});
