import type { ClientClass } from '@vigie/contract';
import { networkMatcher, patternMatcher } from '@vigie/policy';

/** The facts about an event that filters and exceptions look at. */
export interface Subject {
  login?: string | undefined;
  effectiveRole?: string | undefined;
  database?: string | undefined;
  clientAddr?: string | undefined;
  clientClass: ClientClass;
  applicationName?: string | undefined;
}

/** Set-membership conditions, each optional; compiled once into one predicate (all given conditions must hold). */
export interface MembershipSpec {
  roles?: readonly string[] | undefined;
  excludeRoles?: readonly string[] | undefined;
  databases?: readonly string[] | undefined;
  clientClasses?: readonly ClientClass[] | undefined;
  clients?: readonly string[] | undefined;
  applications?: readonly string[] | undefined;
}

/**
 * Compiles a membership spec (role patterns match the login OR the effective role, so `SET ROLE` cannot hide an
 * account; CIDRs for clients) into a predicate.
 */
export function compileMembership(spec: MembershipSpec): (s: Subject) => boolean {
  const checks: Array<(s: Subject) => boolean> = [];
  const roleOf = (m: (n: string) => boolean) => (s: Subject) =>
    (s.login !== undefined && m(s.login)) || (s.effectiveRole !== undefined && m(s.effectiveRole));
  if (spec.roles !== undefined) checks.push(roleOf(patternMatcher(spec.roles)));
  if (spec.excludeRoles !== undefined) {
    const has = roleOf(patternMatcher(spec.excludeRoles));
    checks.push((s) => !has(s));
  }
  if (spec.databases !== undefined) {
    const m = patternMatcher(spec.databases);
    checks.push((s) => s.database !== undefined && m(s.database));
  }
  if (spec.clientClasses !== undefined) {
    const set = new Set(spec.clientClasses);
    checks.push((s) => set.has(s.clientClass));
  }
  if (spec.clients !== undefined) {
    const m = networkMatcher(spec.clients);
    checks.push((s) => s.clientAddr !== undefined && m(s.clientAddr));
  }
  if (spec.applications !== undefined) {
    const m = patternMatcher(spec.applications);
    checks.push((s) => s.applicationName !== undefined && m(s.applicationName));
  }
  if (checks.length === 0) return () => true;
  return (s) => checks.every((c) => c(s));
}
