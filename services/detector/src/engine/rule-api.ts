import type { CompiledPolicy } from '@vigie/policy';
import type { Alert, ClientClass, Severity, VigieEvent } from '@vigie/contract';
import type { AlertBook, Incident } from './alert-book.js';
import type { SessionState } from './session-table.js';
import type { PrivilegedRoles } from './types.js';

/** What a rule sees besides the event: the policy, the privileged roles, the alerts, the clock zone. */
export interface RuleContext {
  readonly policy: CompiledPolicy;
  readonly privileged: PrivilegedRoles;
  readonly alerts: AlertBook;
  /** Sessions already recognised as dumps (by the dump rule), so read rules do not double-alert on them. */
  readonly dumpSessions: Set<string>;
}

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
  /** Periodic housekeeping (prune windows). */
  onTick?(nowMs: number): void;
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
