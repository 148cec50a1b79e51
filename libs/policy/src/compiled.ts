import type { ClientClass } from '@vigie/contract';
import { networkMatcher, patternMatcher, tableMatcher } from './match.js';
import type { SitePolicy } from './schema.js';

/** A policy with its patterns and networks compiled once, for use on the hot path. */
export interface CompiledPolicy {
  readonly policy: Readonly<SitePolicy>;
  environmentOf(cluster: string): 'production' | 'pre-production' | undefined;
  /** bastion / non-bastion for an IP, `local` for a Unix socket, `unknown` when there is no address. */
  clientClass(clientAddr: string | undefined): ClientClass;
  isReplicaHost(cluster: string, clientAddr: string | undefined): boolean;
  isPersonalDataTable(relation: string): boolean;
  isServiceAccount(role: string): boolean;
  isGenericAccount(role: string): boolean;
  isWatchlisted(role: string): boolean;
  isVigieAccount(role: string): boolean;
  isListedPrivileged(role: string): boolean;
  isKnownSlot(name: string): boolean;
  isKnownPublication(name: string): boolean;
  /** Roles an active response never touches: `response.never` and Vigie's own accounts. */
  isResponseExempt(role: string): boolean;
  /**
   * The policy's bastion exception covering a login role at a client address, if any (`expired` when its date has
   * passed at `tsMs`: it no longer exempts, but the alert can say which exception ran out).
   */
  bastionException(role: string, clientAddr: string, tsMs: number): MatchedBastionException | undefined;
}

/** A bastion exception that matched a session's role and address. */
export interface MatchedBastionException {
  name: string;
  /** When it stops exempting (ms since the epoch). */
  expiresMs: number;
  expired: boolean;
}

/** When a bastion exception's `expires` ends: a bare date lasts through that day (UTC). */
export function expiryMs(expires: string): number {
  return /^\d{4}-\d{2}-\d{2}$/.test(expires) ? Date.parse(`${expires}T00:00:00Z`) + 86_400_000 : Date.parse(expires);
}

/** Compiles a validated policy. */
export function compilePolicy(policy: Readonly<SitePolicy>): CompiledPolicy {
  const bastion = networkMatcher(policy.bastion.networks);
  const replicas = new Map(policy.clusters.map((c) => [c.name, networkMatcher(c.replicas)]));
  const environments = new Map(policy.clusters.map((c) => [c.name, c.environment]));
  const personal = tableMatcher(policy.personalData.tables);
  const service = patternMatcher(policy.roles.service);
  const generic = patternMatcher(policy.roles.generic);
  const watch = patternMatcher(policy.roles.watchlist);
  const vigie = patternMatcher(policy.roles.vigie);
  const privileged = patternMatcher(policy.roles.privileged);
  const slots = patternMatcher(policy.replication.knownSlots);
  const publications = patternMatcher(policy.replication.knownPublications);
  const responseNever = patternMatcher(policy.response.never);
  const exceptions = policy.bastion.exceptions.map((e) => ({
    name: e.name,
    expiresMs: expiryMs(e.expires),
    network: networkMatcher(e.networks),
    role: e.roles === undefined ? () => true : patternMatcher(e.roles),
  }));
  return {
    policy,
    environmentOf: (cluster) => environments.get(cluster),
    clientClass(addr) {
      if (addr === undefined || addr === '') return 'unknown';
      if (addr === 'local' || addr === '[local]') return 'local';
      return bastion(addr) ? 'bastion' : 'non-bastion';
    },
    isReplicaHost: (cluster, addr) => addr !== undefined && (replicas.get(cluster)?.(addr) ?? false),
    isPersonalDataTable: personal,
    isServiceAccount: service,
    isGenericAccount: generic,
    isWatchlisted: watch,
    isVigieAccount: vigie,
    isListedPrivileged: privileged,
    isKnownSlot: slots,
    isKnownPublication: publications,
    isResponseExempt: (role) => responseNever(role) || vigie(role),
    bastionException(role, addr, tsMs) {
      // A live exception wins over an expired one that also matches (a renewed window).
      let found: MatchedBastionException | undefined;
      for (const e of exceptions) {
        if (!e.role(role) || !e.network(addr)) continue;
        const expired = tsMs >= e.expiresMs;
        if (!expired) return { name: e.name, expiresMs: e.expiresMs, expired };
        found ??= { name: e.name, expiresMs: e.expiresMs, expired };
      }
      return found;
    },
  };
}
