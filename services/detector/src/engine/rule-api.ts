/**
 * The one interface between the engine and the rules: what a rule is (`CompiledRule`), what it sees (`RuleContext`)
 * and the engine pieces a rule may use (the alert book's incident helpers, the session state, event time, the
 * stateful primitives). Rules import from this module only, never from another file under `engine/`.
 */
import type { CompiledPolicy } from '@vigie/policy';
import { VigieEvent as VigieEventSchema } from '@vigie/contract';
import type { Alert, ClientClass, EventKind, Severity, VigieEvent } from '@vigie/contract';
import type { AlertBook, Incident } from './alert-book.js';
import type { SelfKnowledge } from './self-knowledge.js';
import type { SessionState } from './session-table.js';
import type { ExpectedCollector, PrivilegedRoles, RoleHistory } from './types.js';

export {
  addObjects,
  addTables,
  alertId,
  maxSeverity,
  type AlertBook,
  type Evidence,
  type Incident,
  type IncidentSeed,
} from './alert-book.js';
export { eventMs } from './event-time.js';
export type { SessionState } from './session-table.js';
export type { SelfKnowledge } from './self-knowledge.js';
export {
  NO_ROLE_HISTORY,
  type CatalogRole,
  type ExpectedCollector,
  type PrivilegedRoles,
  type RoleHistory,
} from './types.js';
export { createFirstSeen, type FirstSeen } from './primitives/first-seen.js';
export { memoize } from './primitives/memo.js';
export { compileMembership, type MembershipSpec, type Subject } from './primitives/membership.js';
export { createRecentMap, type RecentMap } from './primitives/recent-map.js';
export { createSchedule } from './primitives/schedule.js';
export { createSequence, type Sequence, type SequenceProgress, type SequenceStep } from './primitives/sequence.js';
export { createSlidingWindow, type SlidingWindow } from './primitives/sliding-window.js';

/** Every event kind of the contract, for a rule that reads whatever a session does (its `kinds`). */
export const ALL_EVENT_KINDS: readonly EventKind[] = Object.freeze(
  VigieEventSchema.options.map((o) => o.shape.kind.value),
);

/** What a rule sees besides the event: the policy, the privileged roles, the alerts, the clock zone. */
export interface RuleContext {
  readonly policy: CompiledPolicy;
  readonly privileged: PrivilegedRoles;
  readonly alerts: AlertBook;
  /**
   * Marks a session (`SessionState.key`) as claimed by the calling rule (a rule declared `claims: 'session'`, e.g.
   * the dump rule once it recognises a dump): the session's activity is that rule's one incident, and rules that
   * yield to claims leave it alone. A claim lasts as long as the session's state.
   */
  claimSession(sessionKey: string): void;
  /** Whether a claiming rule has claimed the session (claiming rules run first, so the claim holds for this event). */
  claimed(sessionKey: string): boolean;
  /** What Vigie knows of its own database sessions and accounts (announced in heartbeats). */
  readonly self: SelfKnowledge;
  /** Collectors the detector's configuration says must be running (silence of one is an alert). */
  readonly expectedCollectors: readonly ExpectedCollector[];
  /**
   * The detector's clock when the current event arrived (its event time in a replay): the clock `onTick` is given.
   * A deadline that a tick checks is set on it, never on the event's time, which is the source's clock.
   */
  readonly arrivedMs: number;
  /** Roles' last activity and catalog facts remembered before this engine started. */
  readonly roles: RoleHistory;
}

/**
 * Which events the engine hands a rule:
 * - `activity` (the default): every event of the operators' sessions and the change stream;
 * - `vigie-accounts`: only events of sessions of Vigie's own accounts that are not one of Vigie's own sessions
 *   (a collector password used elsewhere); while such a rule is enabled the other rules do not see those sessions;
 * - `heartbeats`: only `collector.heartbeat` events.
 */
export type RuleScope = 'activity' | 'vigie-accounts' | 'heartbeats';

/** A rule ready to run: the shipped/site definition compiled to closures. */
export interface CompiledRule {
  readonly id: string;
  /** The rule type (dump-signature, bulk-read…). */
  readonly type: string;
  readonly title: string;
  readonly severity: Severity;
  readonly tags: readonly string[];
  readonly description: string;
  /** Incidents of this rule resolve after this long without an update. */
  readonly quietMs: number;
  /** Which events the engine routes to it (default `activity`). */
  readonly scope?: RuleScope;
  /**
   * The event kinds the rule reads: the engine hands it an event (of its scope) only if its kind is listed, so
   * adding a kind to the contract costs the rules that do not read it nothing.
   */
  readonly kinds: readonly EventKind[];
  /**
   * `'session'`: the rule may claim whole sessions (`ctx.claimSession`). The engine runs claiming rules before the
   * others, so a rule that asks `ctx.claimed(key)` sees the claim made by the same event; a firing alert of a
   * claiming rule restored after a restart claims its session again.
   */
  readonly claims?: 'session';
  /**
   * The rule only fires for privileged roles (catalog or policy `roles.privileged`): without the catalog and with
   * no policy list it is blind (`vigie replay` without `--pg` says so).
   */
  readonly needsPrivilegedRoles?: boolean;
  /**
   * Filters and exceptions of the definition, compiled. `classify` places an address with no session (an egress
   * sample's `peer`) relative to the bastion.
   */
  accepts(
    session: SessionState | undefined,
    event: VigieEvent,
    classify?: (addr: string | undefined) => ClientClass,
  ): boolean;
  /** Looks at one accepted event; opens or updates incidents in `ctx.alerts`. */
  onEvent(event: VigieEvent, session: SessionState | undefined, ctx: RuleContext): void;
  /** Periodic housekeeping (prune windows), and conditions that depend on time passing (silence). */
  onTick?(nowMs: number, ctx: RuleContext): void;
  /** An alert of this rule still firing, reloaded after a restart (the engine has restored it already). */
  onRestore?(alert: Alert, ctx: RuleContext): void;
  /** Renders the one-line summary of one of its alerts, times in `timeZone`. */
  summarize(alert: Alert, facts: Incident['facts'], timeZone: string): string;
}

/** The compiled rule set that `EngineOptions.rules` carries (from `loadRules`). */
export interface RuleSet {
  readonly rules: readonly CompiledRule[];
  /** Rule ids that are shipped but disabled by the site file (for the startup log). */
  readonly disabled: readonly string[];
  /** Files the rules came from, for the startup log. */
  readonly sources: readonly string[];
}
