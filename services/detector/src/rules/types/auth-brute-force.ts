import type { AuthFailureEvent, SessionStartEvent } from '@vigie/contract';
import { z } from 'zod';
import {
  addObjects,
  alertId,
  eventMs,
  createRecentMap,
  createSlidingWindow,
  type RuleContext,
  type SessionState,
} from '../../engine/rule-api.js';
import { defineRuleType } from '../rule-type.js';
import { atWhen, byWhom, fromWhere, humanCount, sessionlessSeed, sessionSeed } from './common.js';

const Params = z
  .object({
    windowMinutes: z.number().positive().default(10).describe('failures are counted over this sliding window'),
    failuresPerRole: z
      .number()
      .int()
      .min(2)
      .default(5)
      .describe('failed logins of one role (from anywhere) in the window: guessing its password'),
    failuresPerSource: z
      .number()
      .int()
      .min(2)
      .default(10)
      .describe('failed logins from one client address (any roles) in the window: guessing from that host'),
    sprayRoles: z
      .number()
      .int()
      .min(2)
      .default(4)
      .describe(
        'distinct roles failing from one client address in the window: password spraying (non-existent roles count as one)',
      ),
    successAfterFailures: z
      .number()
      .int()
      .min(1)
      .default(3)
      .describe(
        'a login that succeeds after this many failures of the same role in the window is critical: the guess worked (so is any login from an address that is guessing or spraying)',
      ),
    maxTracked: z
      .number()
      .int()
      .min(100)
      .default(10_000)
      .describe(
        'roles and addresses remembered (least recently failing forgotten first): role names in failures are chosen by whoever connects, so memory is bounded',
      ),
    quietMinutes: z.number().positive().default(30).describe('an incident resolves after this long without a failure'),
  })
  .strict();

/** Logins remembered per role and per address, waiting for failures consumed late (see `recentLogins`). */
const RECENT_LOGINS = 4;

/** A login, kept a while for failures consumed after it. */
interface Login {
  readonly event: SessionStartEvent;
  readonly session: SessionState;
  readonly tsMs: number;
}

/** A failure whose role does not exist: the collector drops the name (it may be a password typed in the wrong field). */
const UNKNOWN_ROLE = '\0unknown';

/**
 * `auth-brute-force`: failed logins (`auth.failure`: bad password 28P01, no pg_hba entry or no such role 28000)
 * counted in a sliding window of event time — per role (guessing one account's password), per client address
 * (guessing from a host) and distinct roles per address (spraying one password over many accounts) — and a
 * successful login after such a run (critical: the guess worked; an incident on that session). Counts live in
 * bounded, LRU-evicted windows (`maxTracked`): role names here are attacker-chosen, so nothing about them grows
 * without bound, and none becomes a metric label.
 */
export const authBruteForce = defineRuleType(Params, (base, p) => {
  const windowMs = p.windowMinutes * 60_000;
  const quietMs = p.quietMinutes * 60_000;
  const newCounts = () => ({
    byRole: createSlidingWindow({ windowMs, maxKeys: p.maxTracked }),
    bySource: createSlidingWindow({ windowMs, maxKeys: p.maxTracked }),
    rolesBySource: createSlidingWindow({ windowMs, maxKeys: p.maxTracked }),
    /** `<cluster>\0<addr>\0<role>` seen failing in the window: a role counts once per address for spraying. */
    pairs: createRecentMap<true>({ maxKeys: p.maxTracked * 4, maxAgeMs: windowMs }),
    /** The last few roles failing from an address (at most `sprayRoles`), named when its incident opens. */
    recentRoles: createRecentMap<string[]>({ maxKeys: p.maxTracked, maxAgeMs: windowMs }),
    /**
     * The last few logins per role and per address. Failures and logins are separate
     * sessions, so separate Kafka keys and possibly partitions: a login may be consumed before the failures that
     * came before it. A failure looks here for logins that followed it in event time.
     */
    recentLogins: createRecentMap<Login[]>({ maxKeys: p.maxTracked, maxAgeMs: windowMs }),
  });
  // One set of counts per engine (its alert book): a compiled rule set may serve several engines, e.g. replays.
  const countsByEngine = new WeakMap<RuleContext['alerts'], ReturnType<typeof newCounts>>();
  const countsOf = (ctx: RuleContext) => {
    let c = countsByEngine.get(ctx.alerts);
    if (c === undefined) {
      c = newCounts();
      countsByEngine.set(ctx.alerts, c);
    }
    return c;
  };

  function onFailure(event: AuthFailureEvent, ctx: RuleContext): void {
    const { byRole, bySource, rolesBySource, pairs, recentRoles, recentLogins } = countsOf(ctx);
    const tsMs = eventMs(event);
    const addr = event.session?.clientAddr ?? 'local';
    const role = event.user ?? event.session?.user;
    const roleKey = `${event.cluster}\0${role ?? UNKNOWN_ROLE}`;
    const sourceKey = `${event.cluster}\0${addr}`;
    const roleFailures = byRole.add(roleKey, tsMs);
    const sourceFailures = bySource.add(sourceKey, tsMs);
    const pair = `${sourceKey}\0${role ?? UNKNOWN_ROLE}`;
    const distinct =
      pairs.get(pair, tsMs) === undefined ? rolesBySource.add(sourceKey, tsMs) : rolesBySource.total(sourceKey, tsMs);
    pairs.set(pair, true, tsMs);
    const named = recentRoles.get(sourceKey, tsMs) ?? [];
    if (role !== undefined && !named.includes(role)) named.push(role);
    if (named.length > p.sprayRoles) named.shift();
    recentRoles.set(sourceKey, named, tsMs);
    const where = { clientAddr: addr, clientClass: ctx.policy.clientClass(addr) };
    const evidence = { eventId: event.id, tsMs };

    if (role !== undefined && roleFailures >= p.failuresPerRole) {
      const id = alertId(base.id, event.cluster, `role:${role}`);
      const seed = sessionlessSeed(base, event, { id, severity: base.severity, quietMs, where });
      ctx.alerts.update(
        () => ({ ...seed(), who: { login: role } }),
        id,
        (i) => {
          i.facts['mode'] = 'role';
          i.facts['failures'] = Math.max(Number(i.facts['failures'] ?? 0), roleFailures);
          i.alert.what.statements = (i.alert.what.statements ?? 0) + 1;
          addObjects(i.alert, [addr]);
        },
        evidence,
      );
    }
    if (sourceFailures >= p.failuresPerSource || distinct >= p.sprayRoles) {
      const id = alertId(base.id, event.cluster, `source:${addr}`);
      ctx.alerts.update(
        sessionlessSeed(base, event, { id, severity: base.severity, quietMs, where }),
        id,
        (i) => {
          i.facts['mode'] = distinct >= p.sprayRoles ? 'spray' : 'source';
          i.facts['failures'] = Math.max(Number(i.facts['failures'] ?? 0), sourceFailures);
          i.facts['roles'] = Math.max(Number(i.facts['roles'] ?? 0), distinct);
          i.alert.what.statements = (i.alert.what.statements ?? 0) + 1;
          addObjects(i.alert, named);
        },
        evidence,
      );
    }
    // Logins consumed before this failure that happened after it: judged again with it counted.
    for (const key of [`role\0${roleKey}`, `addr\0${sourceKey}`]) {
      for (const login of recentLogins.get(key, tsMs) ?? []) {
        if (login.tsMs >= tsMs) judgeLogin(login, ctx);
      }
    }
  }

  /** A login: judged now, and remembered under its role and its address (a few per key) for late failures. */
  function onLogin(event: SessionStartEvent, session: SessionState, ctx: RuleContext): void {
    const role = session.login;
    if (role === undefined) return;
    const { recentLogins } = countsOf(ctx);
    const login: Login = { event, session, tsMs: eventMs(event) };
    for (const key of [`role\0${event.cluster}\0${role}`, `addr\0${event.cluster}\0${session.clientAddr ?? 'local'}`]) {
      const list = recentLogins.get(key, login.tsMs) ?? [];
      list.push(login);
      if (list.length > RECENT_LOGINS) list.shift();
      recentLogins.set(key, list, login.tsMs);
    }
    judgeLogin(login, ctx);
  }

  /** A login after a run of failures (counted up to its time) is a success of the run: critical. */
  function judgeLogin({ event, session, tsMs }: Login, ctx: RuleContext): void {
    const { byRole, bySource, rolesBySource } = countsOf(ctx);
    const role = session.login;
    if (role === undefined) return;
    const roleFailures = byRole.total(`${event.cluster}\0${role}`, tsMs);
    const sourceKey = `${event.cluster}\0${session.clientAddr ?? 'local'}`;
    const sourceFailures = bySource.total(sourceKey, tsMs);
    // The address itself is guessing or spraying: any role that gets in from there may be a guess that worked.
    // Other people's typos on a shared address (a bastion, a NAT) are not a run against this role.
    const sourceRun = sourceFailures >= p.failuresPerSource || rolesBySource.total(sourceKey, tsMs) >= p.sprayRoles;
    if (roleFailures < p.successAfterFailures && !sourceRun) return;
    const failures = sourceRun ? Math.max(roleFailures, sourceFailures) : roleFailures;
    const id = alertId(base.id, session.cluster, session.id);
    ctx.alerts.update(
      sessionSeed(base, session, ctx, event, { id, severity: 'critical', quietMs }),
      id,
      (i) => {
        i.facts['mode'] = 'success';
        i.facts['failures'] = failures;
      },
      { eventId: event.id, tsMs },
    );
  }

  return {
    ...base,
    type: 'auth-brute-force',
    kinds: ['auth.failure', 'session.start'],
    quietMs,
    onEvent(event, session, ctx) {
      if (event.kind === 'auth.failure') onFailure(event, ctx);
      else if (event.kind === 'session.start' && session !== undefined) onLogin(event, session, ctx);
    },
    onTick(nowMs, ctx) {
      const c = countsOf(ctx);
      for (const window of [c.byRole, c.bySource, c.rolesBySource, c.pairs, c.recentRoles, c.recentLogins])
        window.prune(nowMs);
    },
    summarize(alert, facts, timeZone) {
      const n = humanCount(Number(facts['failures'] ?? 0));
      const window = `${p.windowMinutes} min`;
      switch (facts['mode']) {
        case 'success':
          return `login succeeded after ${n} failed attempts in ${window}: ${byWhom(alert)} ${fromWhere(alert)} ${atWhen(alert, timeZone)} — the guess may have worked`;
        case 'role':
          return `${n} failed logins for ${alert.who.login ?? '?'} in ${window}, from ${(alert.what.objects ?? []).join(', ')} (password guessing, first ${atWhen(alert, timeZone)})`;
        case 'spray':
          return `password spraying ${fromWhere(alert)}: ${humanCount(Number(facts['roles'] ?? 0))} roles failed to log in (${n} failures in ${window}, first ${atWhen(alert, timeZone)})`;
        default:
          return `${n} failed logins ${fromWhere(alert)} in ${window} (password guessing, first ${atWhen(alert, timeZone)})`;
      }
    },
  };
});
