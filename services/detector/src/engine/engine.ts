import { eventMs } from './event-time.js';
import type { Alert, ClientClass, EventKind, PrivilegeChange, VigieEvent } from '@vigie/contract';
import { VigieError } from '@vigie/errors';
import { createAlertBook, DEFAULT_REVISION_POLICY } from './alert-book.js';
import { memoize } from './primitives/memo.js';
import { createRecentMap } from './primitives/recent-map.js';
import type { CompiledRule, RuleContext, RuleSet } from './rule-api.js';
import { createSelfKnowledge } from './self-knowledge.js';
import { createSessionTable, type SessionState } from './session-table.js';
import { NO_ROLE_HISTORY, type DetectorEngine, type EngineOptions } from './types.js';
import { DETECTOR_ERRORS } from '../errors.js';

/** Grace after `session.end` before a session's state goes and its incidents resolve (late egress samples). */
const ENDED_GRACE_MS = 60_000;
/**
 * How long a write statement's transaction id stays joinable to the WAL's `change.txn`: the two come from
 * different collectors and topics, seconds apart; the bound also makes xid wrap-around (2^32) harmless.
 */
const TXID_JOIN_MS = 10 * 60_000;
/**
 * How long a WAL summary whose write statement has not been seen waits for it (on the detector's clock, released by
 * a tick): the two come from different topics, and which one is consumed first depends on fetch sizes and backlogs,
 * not on what happened. Waiting makes the outcome (the alert names the session) the same in every order.
 */
const TXN_WAIT_MS = 15_000;

/** `T` with `K` writable: the engine moves the context's clock, rules only read it. */
type Mutable<T, K extends keyof T> = Omit<T, K> & { -readonly [P in K]: T[P] };

/** A privilege change that alters which roles the catalog calls privileged (not an ownership or a SET ROLE). */
const changesRoles = (c: PrivilegeChange): boolean => c.action === 'role-attributes' || c.action === 'grant-role';

const NONE: readonly CompiledRule[] = [];

/** Rules by the event kinds they read (each list in the rules' order), so an event reaches only those that use it. */
function byKind(rules: readonly CompiledRule[]): ReadonlyMap<EventKind, readonly CompiledRule[]> {
  const index = new Map<EventKind, CompiledRule[]>();
  for (const rule of rules) {
    for (const kind of new Set(rule.kinds)) {
      const list = index.get(kind);
      if (list === undefined) index.set(kind, [rule]);
      else list.push(rule);
    }
  }
  return index;
}

/** The rule set is checked at run time too: JavaScript callers (a plugin, a script) are not type-checked. */
function isRuleSet(value: unknown): value is RuleSet {
  return (
    typeof value === 'object' &&
    value !== null &&
    Array.isArray((value as RuleSet).rules) &&
    (value as RuleSet).rules.every((r) => typeof r.onEvent === 'function' && Array.isArray(r.kinds))
  );
}

/**
 * Creates the rule engine: pure and synchronous (no I/O, no wall clock except what `tick` is given), so a replay
 * of the same events yields the same alerts as the live detector.
 */
export function createEngine(options: EngineOptions): DetectorEngine {
  const { policy, privileged, maxSessions = 100_000, idleSessionMs = 30 * 60_000, maxTransactions = 100_000 } = options;
  if (!isRuleSet(options.rules)) {
    throw new VigieError(
      DETECTOR_ERRORS.RULES_INVALID,
      'EngineOptions.rules must be the value returned by loadRules()',
    );
  }
  // Claiming rules first (stable otherwise): a claim made by an event holds for the other rules on the same event.
  const all: readonly CompiledRule[] = [
    ...options.rules.rules.filter((r) => r.claims === 'session'),
    ...options.rules.rules.filter((r) => r.claims !== 'session'),
  ];
  const byId = new Map(all.map((r) => [r.id, r]));
  const rules = byKind(all.filter((r) => (r.scope ?? 'activity') === 'activity'));
  const vigieRules = byKind(all.filter((r) => r.scope === 'vigie-accounts'));
  const heartbeatRules = byKind(all.filter((r) => r.scope === 'heartbeats'));
  // Whether Vigie's accounts are watched by their own rules (then no other rule sees their sessions).
  const watchesVigieAccounts = all.some((r) => r.scope === 'vigie-accounts');
  const timeZone = policy.policy.businessHours.timezone;
  /** Sessions claimed by a rule that declared `claims: 'session'` (see `RuleContext.claimSession`). */
  const claimedSessions = new Set<string>();
  const sessions = createSessionTable({
    maxSessions,
    idleMs: idleSessionMs,
    endedGraceMs: ENDED_GRACE_MS,
    onEvict: (s) => claimedSessions.delete(s.key),
  });
  const alerts = createAlertBook({
    endedGraceMs: ENDED_GRACE_MS,
    revisions: { ...DEFAULT_REVISION_POLICY, ...options.revisions },
    summarize(rule) {
      const r = byId.get(rule);
      return r === undefined ? undefined : (alert, facts) => r.summarize(alert, facts, timeZone);
    },
  });
  const self = createSelfKnowledge({ policy, enabled: options.announcements ?? true });
  const ctx: Mutable<RuleContext, 'arrivedMs'> = {
    arrivedMs: 0,
    policy,
    privileged,
    alerts,
    claimSession: (key) => claimedSessions.add(key),
    claimed: (key) => claimedSessions.has(key),
    self,
    expectedCollectors: options.expectedCollectors ?? [],
    roles: options.roleHistory ?? NO_ROLE_HISTORY,
  };
  // Where an address stands relative to the bastion, asked per new session and per sample of a session-less peer:
  // the policy's CIDR match builds a SocketAddress each time, so the answers are kept.
  const classify = memoize((addr: string | undefined): ClientClass => policy.clientClass(addr));
  /** The detector's clock for what follows (an event's arrival, a tick): rules read it, the alert book stamps with it. */
  const setClock = (ms: number) => {
    ctx.arrivedMs = ms;
    alerts.arrive(ms);
  };
  // `<cluster>/<txid>` → the session whose statement ran in that transaction. Like all engine state it is the
  // partition's: collectors send a cluster's statements and WAL summaries to the same partition number.
  const writers = createRecentMap<SessionState>({ maxKeys: maxTransactions, maxAgeMs: TXID_JOIN_MS });
  /** `<cluster>/<xid>` → a WAL summary waiting for its write statement, in arrival order (see TXN_WAIT_MS). */
  const waitingTxns = new Map<string, { event: VigieEvent; arrivedMs: number }>();

  /** Hands an event to the rules that read its kind (and accept it). */
  const runRules = (event: VigieEvent, session: SessionState | undefined) => {
    for (const rule of rules.get(event.kind) ?? NONE) {
      if (rule.accepts(session, event, classify)) rule.onEvent(event, session, ctx);
    }
  };
  /** Gives up waiting for the statements of summaries that waited `TXN_WAIT_MS` (all with `nowMs` infinite). */
  const releaseTxns = (nowMs: number) => {
    for (const [key, w] of waitingTxns) {
      if (nowMs - w.arrivedMs < TXN_WAIT_MS) break;
      waitingTxns.delete(key);
      runRules(w.event, undefined);
    }
  };

  return {
    process(event: VigieEvent, arrivedMs?: number): Alert[] {
      const tsMs = eventMs(event);
      // Time on the detector's clock: what `tick` compares with (quiet time, grace, deadlines). Sources stamp their
      // events on their own clocks (the server's for its log and WAL, a collector's for its samples and heartbeats).
      const arrived = arrivedMs ?? tsMs;
      setClock(arrived);
      if (event.kind === 'collector.heartbeat') {
        // Only Vigie's producers write heartbeats; anything from the server log has a session and a position.
        if (event.session !== undefined || event.source !== undefined) return [];
        if (event.accounts !== undefined) self.announceAccounts(event.cluster, event.accounts, tsMs);
        if (event.identities !== undefined) self.announce(event.cluster, event.identities, tsMs);
        for (const rule of heartbeatRules.get(event.kind) ?? NONE) rule.onEvent(event, undefined, ctx);
        return alerts.drain();
      }
      if (event.kind === 'statement' && event.sql.privileges?.some(changesRoles) === true) {
        options.onPrivilegesChanged?.(event.cluster);
      }
      let session: SessionState | undefined;
      if (event.session !== undefined) {
        session = sessions.touch(event.cluster, event.session, tsMs, classify, arrived);
        if (event.kind === 'session.end' || (event.kind === 'egress.sample' && event.final))
          session.endedAtMs = arrived;
        // Vigie's own sessions (announced by the component that opened them) are not operator activity, whatever
        // the day or what they read. Any other session of a Vigie account is watched by the vigie-accounts rules
        // alone (one incident that says what it did), or, if a site disabled them, by every rule like any role.
        if (self.isOwn(session.key, session.login)) return [];
        // Asked once per session and again only when the announced accounts changed (not a lookup per event).
        if (watchesVigieAccounts && session.login !== undefined && session.vigieGeneration !== self.generation) {
          session.vigieAccount = self.isVigieAccount(event.cluster, session.login);
          session.vigieGeneration = self.generation;
        }
        if (session.vigieAccount === true && watchesVigieAccounts) {
          for (const rule of vigieRules.get(event.kind) ?? NONE)
            if (rule.accepts(session, event, classify)) rule.onEvent(event, session, ctx);
          return alerts.drain();
        }
        if (event.kind === 'statement' && event.effectiveRole !== undefined)
          session.effectiveRole = event.effectiveRole;
        // pgaudit logs a write after it ran, so even a transaction's first write carries its txid (0 = none yet).
        if (event.kind === 'statement' && event.txid !== undefined && event.txid !== '0')
          writers.set(`${event.cluster}/${event.txid}`, session, arrived);
      } else if (event.kind === 'change.txn') {
        // The WAL carries no user: the session that wrote in this transaction, when its statement was seen; if it
        // was not (yet), the summary waits for it.
        const key = `${event.cluster}/${event.xid}`;
        session = writers.get(key, arrived);
        if (session === undefined && waitingTxns.size < maxTransactions && !waitingTxns.has(key)) {
          waitingTxns.set(key, { event, arrivedMs: arrived });
          return alerts.drain();
        }
      }
      runRules(event, session);
      // The write statement a waiting WAL summary needed: the summary follows it, as if consumed in that order.
      if (event.kind === 'statement' && session !== undefined && event.txid !== undefined) {
        const key = `${event.cluster}/${event.txid}`;
        const waiting = waitingTxns.get(key);
        if (waiting !== undefined) {
          waitingTxns.delete(key);
          runRules(waiting.event, session);
        }
      }
      // The session is over: what its incidents held back are its final figures (a dump's size), told now.
      if (session !== undefined && (event.kind === 'session.end' || (event.kind === 'egress.sample' && event.final)))
        alerts.settle(session.key);
      return alerts.drain();
    },
    tick(nowMs: number): Alert[] {
      // What the rules open or update on a tick (a silence, a grace run out) happens now, on the detector's clock.
      setClock(nowMs);
      // Incidents first: they read the end time of sessions that the sweep below is about to evict.
      alerts.tick(nowMs, (key) => sessions.get(key)?.endedAtMs);
      sessions.sweep(nowMs);
      writers.prune(nowMs);
      releaseTxns(nowMs);
      self.prune(nowMs);
      for (const rule of all) rule.onTick?.(nowMs, ctx);
      return alerts.drain();
    },
    restore(restored: readonly Alert[], nowMs?: number, replayedSinceMs?: number): void {
      alerts.restore(restored, (rule) => byId.get(rule)?.quietMs ?? idleSessionMs, nowMs, replayedSinceMs);
      for (const a of restored) {
        // What the book did not load (resolved, or to come again from the input) claims nothing and tells no rule.
        if (alerts.get(a.id) === undefined) continue;
        if (byId.get(a.rule)?.claims === 'session' && a.status === 'firing' && a.sessionId !== undefined) {
          claimedSessions.add(`${a.cluster}/${a.sessionId}`);
        }
        if (a.status === 'firing') byId.get(a.rule)?.onRestore?.(a, ctx);
      }
    },
    announceOwn(cluster, identities, nowMs) {
      self.announce(cluster, identities, nowMs);
    },
    announceAccounts(cluster, roles, tsMs) {
      self.announceAccounts(cluster, roles, tsMs);
    },
    flush(): Alert[] {
      // Stopping: a summary still waiting is told without its session rather than not at all.
      releaseTxns(Number.POSITIVE_INFINITY);
      alerts.flush();
      return alerts.drain();
    },
    annotate: (id, mutate) => (alerts.annotate(id, mutate) ? alerts.drain() : []),
    ruleIds: all.map((r) => r.id),
    pending: () => alerts.takeUnsaved(),
    revisionCounts: () => alerts.counts,
    alerts: () => alerts.all(),
    get stats() {
      return { sessionsTracked: sessions.size, sessionsEvicted: sessions.evicted };
    },
  };
}
