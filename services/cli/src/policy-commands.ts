import { isIP } from 'node:net';
import { parseArgs } from 'node:util';
import {
  compilePolicy,
  isBusinessTime,
  loadPolicy,
  localTime,
  networkMatcher,
  patternMatcher,
  policyFileFrom,
  type SitePolicy,
} from '@vigie/policy';
import { ConfigError, describeError, EXIT } from '@vigie/runtime';
import { PROCESS_OUTPUT, type Output } from './config-check.js';

const POLICY_USAGE = `usage:
  vigie policy check <file>
      validate a site policy without starting anything (exit 0: valid; 2: every problem printed with its path)
  vigie policy explain --role <role> [--addr <client address>] [--at <ISO time with zone | now>] [--cluster <name>]
                       [--policy <file>]
      how the policy classifies a session: service, generic, human, watchlisted, Vigie's own, privileged by the
      policy; bastion or not; a declared replica host; inside business hours or not (the detector's own functions)`;

/** Loads a policy, printing its problems; undefined when invalid (already printed). */
function load(file: string, io: Output): Readonly<SitePolicy> | undefined {
  try {
    return loadPolicy(file);
  } catch (error) {
    if (error instanceof ConfigError) {
      const n = error.problems.length;
      io.out(`invalid ${file} (policy): ${n} problem${n === 1 ? '' : 's'}`);
      for (const p of error.problems) io.out(`  - ${p.path || '(root)'}: expected ${p.expected}, found ${p.found}`);
    } else io.out(`invalid ${file} (policy): ${describeError(error)}`);
    return undefined;
  }
}

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

/** One line per part of a valid policy, so the operator sees what it was read as. */
function summary(p: Readonly<SitePolicy>): string[] {
  const h = p.businessHours;
  return [
    `  clusters: ${p.clusters.map((c) => `${c.name} (${c.environment}, ${plural(c.replicas.length, 'replica network')})`).join(', ')}`,
    `  bastion networks: ${p.bastion.networks.length > 0 ? p.bastion.networks.join(', ') : 'none (every address is outside the bastion)'}`,
    `  business hours: ${h.days.join(' ')} ${h.start}-${h.end} ${h.timezone}, ${plural(h.holidays.length, 'holiday')}`,
    `  personal-data tables: ${p.personalData.tables.length > 0 ? p.personalData.tables.join(', ') : 'none'}`,
    `  roles: ${(['service', 'generic', 'human', 'privileged', 'watchlist', 'vigie'] as const)
      .map((k) => `${k} ${p.roles[k].length}`)
      .join(', ')}`,
    `  response: locks ${p.response.lockFor} by default (at most ${p.response.maxLockFor}), never ${p.response.never.length > 0 ? p.response.never.join(', ') : 'no role listed'}, superusers ${p.response.allowSuperuser ? 'allowed' : 'refused'}, automatic: ${
      Object.entries(p.response.rules)
        .map(([rule, r]) => `${rule} (${r.actions.join(', ')})`)
        .join(', ') || 'none'
    }`,
  ];
}

/** `vigie policy check <file>`. */
function check(args: string[], io: Output): number {
  if (args.length !== 1 || (args[0] as string).startsWith('-')) {
    io.err(`vigie policy check: give one policy file\n${POLICY_USAGE}`);
    return EXIT.config;
  }
  const file = args[0] as string;
  const policy = load(file, io);
  if (policy === undefined) return EXIT.config;
  io.out(`ok      ${file} (policy)`);
  for (const line of summary(policy)) io.out(line);
  return EXIT.ok;
}

/** The patterns of a list that match a name (each through the policy's own matcher). */
function matching(patterns: readonly string[], name: string): string[] {
  return patterns.filter((p) => patternMatcher([p])(name));
}

function yesNo(matched: string[], setting: string): string {
  return matched.length > 0 ? `yes (${setting}: ${matched.join(', ')})` : 'no';
}

/** Reads `--at`: an ISO 8601 time with its zone (`Z` or `±HH:MM`), or `now`. */
function parseInstant(text: string, now: () => number): number | undefined {
  if (text === 'now') return now();
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.test(text)) return undefined;
  const ms = Date.parse(text);
  return Number.isNaN(ms) ? undefined : ms;
}

/** Why an instant is or is not business time, in the words of the policy (the verdict itself is isBusinessTime's). */
function businessReason(h: SitePolicy['businessHours'], t: ReturnType<typeof localTime>): string {
  if (!h.days.includes(t.weekday)) return `${t.weekday} is not a business day: ${h.days.join(' ')}`;
  if (h.holidays.includes(t.date)) return `${t.date} is a holiday (businessHours.holidays)`;
  if (t.time < h.start) return `before ${h.start}`;
  if (t.time >= h.end) return `at or after ${h.end}`;
  return `${h.days.join(' ')} ${h.start}-${h.end}`;
}

/** `vigie policy explain …`. */
function explain(args: string[], env: Record<string, string | undefined>, io: Output, now: () => number): number {
  let v: { role?: string; addr?: string; at?: string; cluster?: string; policy?: string };
  try {
    v = parseArgs({
      args,
      options: {
        role: { type: 'string' },
        addr: { type: 'string' },
        at: { type: 'string' },
        cluster: { type: 'string' },
        policy: { type: 'string' },
      },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (error) {
    io.err(`vigie policy explain: ${(error as Error).message}\n${POLICY_USAGE}`);
    return EXIT.config;
  }
  const usageProblems: string[] = [];
  if (v.role === undefined || v.role === '') usageProblems.push('--role <role> is required');
  const addr = v.addr;
  if (addr !== undefined && addr !== 'local' && isIP(addr.replace(/^\[|\]$/g, '')) === 0) {
    usageProblems.push(`--addr: expected an IPv4 or IPv6 address or 'local', found ${JSON.stringify(addr)}`);
  }
  const at = v.at === undefined ? now() : parseInstant(v.at, now);
  if (at === undefined) {
    usageProblems.push(
      `--at: expected an ISO 8601 time with its zone (2026-12-05T03:00:00Z, 2026-12-05T04:00+01:00) or 'now', found ${JSON.stringify(v.at)}`,
    );
  }
  if (usageProblems.length > 0 || at === undefined || v.role === undefined) {
    io.err(`vigie policy explain: ${usageProblems.join('; ')}\n${POLICY_USAGE}`);
    return EXIT.config;
  }
  const file = policyFileFrom(v.policy, env);
  const policy = load(file, io);
  if (policy === undefined) return EXIT.config;
  const compiled = compilePolicy(policy);
  const cluster = policy.clusters.find((c) => c.name === (v.cluster ?? policy.clusters[0]?.name));
  if (cluster === undefined) {
    io.err(
      `vigie policy explain: --cluster ${JSON.stringify(v.cluster)} is not in ${file} (${policy.clusters.map((c) => c.name).join(', ')})`,
    );
    return EXIT.config;
  }
  const role = v.role;
  const r = policy.roles;
  io.out(`policy ${file}, cluster ${cluster.name} (${compiled.environmentOf(cluster.name) ?? 'unknown'})`);
  io.out(`role ${role}`);
  // Each verdict is the compiled policy's (what the detector asks); the matching patterns are shown beside it.
  const rows: [string, boolean, string[], string][] = [
    ['service account', compiled.isServiceAccount(role), matching(r.service, role), 'roles.service'],
    ['generic account', compiled.isGenericAccount(role), matching(r.generic, role), 'roles.generic'],
    ['named human', patternMatcher(r.human)(role), matching(r.human, role), 'roles.human'],
    ['watchlist', compiled.isWatchlisted(role), matching(r.watchlist, role), 'roles.watchlist'],
    ["Vigie's own account", compiled.isVigieAccount(role), matching(r.vigie, role), 'roles.vigie'],
  ];
  for (const [label, verdict, matched, setting] of rows) {
    io.out(`  ${`${label}:`.padEnd(22)}${verdict ? yesNo(matched, setting) : 'no'}`);
  }
  const listed = compiled.isListedPrivileged(role);
  io.out(
    `  ${'privileged:'.padEnd(22)}${listed ? `yes by the policy (roles.privileged: ${matching(r.privileged, role).join(', ')})` : 'not by the policy (roles.privileged)'}`,
  );
  io.out(
    `  ${''.padEnd(22)}the detector adds what the cluster's catalog says (superuser, CREATEROLE, REPLICATION, BYPASSRLS, pg_read_all_data, …)`,
  );
  if (addr !== undefined) {
    const a = addr.replace(/^\[|\]$/g, '');
    const cls = compiled.clientClass(a);
    const bastions = policy.bastion.networks.filter((n) => networkMatcher([n])(a));
    io.out(`address ${addr}`);
    io.out(
      `  ${'client class:'.padEnd(22)}${cls}${cls === 'bastion' ? ` (bastion.networks: ${bastions.join(', ')})` : cls === 'non-bastion' ? ` (not in bastion.networks: ${policy.bastion.networks.join(', ') || 'none'})` : ''}`,
    );
    const replica = compiled.isReplicaHost(cluster.name, a);
    const replicaNets = cluster.replicas.filter((n) => networkMatcher([n])(a));
    io.out(
      `  ${'replica host:'.padEnd(22)}${replica ? `yes (clusters.${cluster.name}.replicas: ${replicaNets.join(', ')}): its walsender sessions are expected` : 'no'}`,
    );
  }
  const h = policy.businessHours;
  const t = localTime(at, h.timezone);
  const inside = isBusinessTime(policy, at);
  io.out(`time ${new Date(at).toISOString()} = ${t.weekday} ${t.date} ${t.time} ${h.timezone}`);
  io.out(`  ${'business hours:'.padEnd(22)}${inside ? 'yes' : 'no'} (${businessReason(h, t)})`);
  return EXIT.ok;
}

/** `vigie policy check|explain …`: returns the exit code. */
export function policyMain(
  args: string[],
  env: Record<string, string | undefined>,
  io: Output = PROCESS_OUTPUT,
  now: () => number = Date.now,
): number {
  const [sub, ...rest] = args;
  if (sub === 'check') return check(rest, io);
  if (sub === 'explain') return explain(rest, env, io, now);
  io.err(sub === undefined ? POLICY_USAGE : `vigie policy: unknown command ${JSON.stringify(sub)}\n${POLICY_USAGE}`);
  return EXIT.config;
}
