import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ClientClass, VigieEvent } from '@vigie/contract';
import { ConfigError, readYamlFile, type ConfigProblem } from '@vigie/runtime';
import type { z } from 'zod';
import {
  type CompiledRule,
  type RuleContext,
  type RuleSet,
  type SessionState,
  compileMembership,
  type Subject,
} from '../engine/rule-api.js';
import { RULE_TYPE_IMPLS } from './types/index.js';
import { RuleDefinition, RuleOverride, SiteRulesShape } from './schema.js';
import type { RuleBase } from './rule-type.js';

/** Directory of the rules shipped with the detector (`services/detector/rules`). */
export const SHIPPED_RULES_DIR = fileURLToPath(new URL('../../rules', import.meta.url));

/** Where rules come from: the shipped directory (one YAML file per rule) and an optional site override file. */
export interface LoadRulesOptions {
  shippedDir?: string;
  siteFile?: string | undefined;
}

function problemsOf(error: z.ZodError, prefix: string): ConfigProblem[] {
  return error.issues.map((i) => ({
    path: [prefix, ...i.path.map(String)].filter((s) => s !== '').join('.'),
    expected: i.message,
    found: 'input' in i && i.input !== undefined ? JSON.stringify(i.input).slice(0, 80) : 'see the file',
  }));
}

/**
 * The facts filters look at, from the session when there is one, else from the event itself (an egress sample
 * that could not be joined to a session has only its peer address, placed by `classify`).
 */
export function subjectOf(
  session: SessionState | undefined,
  event: VigieEvent,
  classify?: (addr: string | undefined) => ClientClass,
): Subject {
  if (session !== undefined) return session;
  if (event.kind === 'egress.sample' && event.session === undefined && event.peer !== undefined) {
    return { clientAddr: event.peer.addr, clientClass: classify?.(event.peer.addr) ?? 'unknown' };
  }
  const s = event.session;
  return {
    login: s?.user,
    database: s?.database,
    clientAddr: s?.clientAddr,
    clientClass: 'unknown',
    applicationName: s?.applicationName,
  };
}

/** Whether the session's login or effective role is on the policy's watchlist; asked again only when they change. */
function isWatched(session: SessionState | undefined, ctx: RuleContext): boolean {
  if (session === undefined) return false;
  const known = session.watchlist;
  if (known !== undefined && known.login === session.login && known.role === session.effectiveRole)
    return known.watched;
  const answer: SessionState['watchlist'] = {
    login: session.login,
    role: session.effectiveRole,
    watched:
      (session.login !== undefined && ctx.policy.isWatchlisted(session.login)) ||
      (session.effectiveRole !== undefined && ctx.policy.isWatchlisted(session.effectiveRole)),
  };
  session.watchlist = answer;
  return answer.watched;
}

const isBlock = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** `over` merged over `base`: nested blocks key by key (a watchlist threshold keeps the window it does not name). */
export function mergeParams(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    out[k] = isBlock(b) && isBlock(v) ? mergeParams(b, v) : v;
  }
  return out;
}

/** The tag every alert about a watchlisted role carries. */
export const WATCHLIST_TAG = 'watchlist';

/**
 * One rule as the engine runs it: the instance with `params` for every role, and the instance with the
 * `watchlist` params merged over them for the policy's `roles.watchlist` (login or effective role), whose alerts
 * carry the `watchlist` tag. Both keep the rule's id, so an incident stays one alert if the role changes.
 */
function withWatchlist(normal: CompiledRule, watched: CompiledRule): CompiledRule {
  return {
    ...normal,
    onEvent(event, session, ctx) {
      (isWatched(session, ctx) ? watched : normal).onEvent(event, session, ctx);
    },
    onTick(nowMs, ctx) {
      normal.onTick?.(nowMs, ctx);
      watched.onTick?.(nowMs, ctx);
    },
    onRestore(alert, ctx) {
      (alert.tags.includes(WATCHLIST_TAG) ? watched : normal).onRestore?.(alert, ctx);
    },
  };
}

function compile(def: RuleDefinition, file: string, problems: ConfigProblem[]): CompiledRule | undefined {
  const impl = RULE_TYPE_IMPLS[def.type];
  // The schema accepts only the registry's names: this is the type checker's due, not a case a rule file reaches.
  if (impl === undefined) {
    problems.push({ path: `${file}.type`, expected: 'a rule type', found: def.type });
    return undefined;
  }
  const parsed = impl.params.safeParse(def.params);
  const watchParsed = impl.params.safeParse(mergeParams(def.params, def.watchlist));
  if (!parsed.success) problems.push(...problemsOf(parsed.error, `${file}.params`));
  // The watchlist block's own problems (a bad params block is reported once, above).
  else if (!watchParsed.success) problems.push(...problemsOf(watchParsed.error, `${file}.watchlist`));
  if (!parsed.success || !watchParsed.success) return undefined;
  const filter = compileMembership(def.filters);
  const exceptions = def.exceptions.map(compileMembership);
  const unfiltered = Object.keys(def.filters).length === 0 && exceptions.length === 0;
  const base: RuleBase = {
    definition: def,
    id: def.id,
    title: def.title,
    severity: def.severity,
    tags: def.tags,
    description: def.description,
    accepts(session, event, classify) {
      if (unfiltered) return true;
      const subject = subjectOf(session, event, classify);
      return filter(subject) && !exceptions.some((e) => e(subject));
    },
  };
  const create = impl.create as (b: RuleBase, p: unknown) => CompiledRule;
  const normal = create(base, parsed.data);
  // Rules about Vigie's own accounts or its collectors' heartbeats watch no operator: no watchlist instance.
  if ((normal.scope ?? 'activity') !== 'activity') return normal;
  const watchBase: RuleBase = { ...base, tags: [...new Set([...def.tags, WATCHLIST_TAG])] };
  return withWatchlist(normal, create(watchBase, watchParsed.data));
}

function applyOverride(def: RuleDefinition, o: RuleOverride): RuleDefinition {
  return {
    ...def,
    ...(o.enabled !== undefined && { enabled: o.enabled }),
    ...(o.severity !== undefined && { severity: o.severity }),
    ...(o.filters !== undefined && { filters: o.filters }),
    params: { ...def.params, ...o.params },
    watchlist: { ...def.watchlist, ...o.watchlist },
    exceptions: [...def.exceptions, ...(o.exceptions ?? [])],
    tags: [...new Set([...def.tags, ...(o.tags ?? [])])],
  };
}

/**
 * Loads the shipped rules (every `*.yaml` directly in `shippedDir`, in name order), applies the site file's
 * overrides and new rules, validates everything (params by each rule type's schema) and compiles the rules to
 * closures once. Throws a ConfigError listing every problem (the service must not start half-configured).
 */
export function loadRules({ shippedDir = SHIPPED_RULES_DIR, siteFile }: LoadRulesOptions = {}): RuleSet {
  const problems: ConfigProblem[] = [];
  const defs = new Map<string, RuleDefinition>();
  const sources: string[] = [];
  let files: string[] = [];
  try {
    files = readdirSync(shippedDir)
      .filter((f) => f.endsWith('.yaml') || f.endsWith('.yml'))
      .sort();
  } catch (cause) {
    throw new ConfigError(shippedDir, [
      {
        path: '',
        expected: 'a readable directory of rule files',
        found: (cause as NodeJS.ErrnoException).code ?? 'unreadable',
      },
    ]);
  }
  for (const f of files) {
    const file = join(shippedDir, f);
    sources.push(file);
    const parsed = RuleDefinition.safeParse(readYamlFile(file));
    if (!parsed.success) {
      problems.push(...problemsOf(parsed.error, f));
      continue;
    }
    if (defs.has(parsed.data.id))
      problems.push({ path: `${f}.id`, expected: 'a unique rule id', found: parsed.data.id });
    defs.set(parsed.data.id, parsed.data);
  }
  const disabled: string[] = [];
  if (siteFile !== undefined) {
    sources.push(siteFile);
    // Entry by entry, so that one bad override does not hide the problems of the others.
    const parsed = SiteRulesShape.safeParse(readYamlFile(siteFile));
    if (!parsed.success) {
      problems.push(...problemsOf(parsed.error, ''));
    } else {
      parsed.data.overrides.forEach((raw, n) => {
        const o = RuleOverride.safeParse(raw);
        if (!o.success) {
          problems.push(...problemsOf(o.error, `overrides.${n}`));
          return;
        }
        const def = defs.get(o.data.id);
        if (def === undefined) {
          problems.push({
            path: `overrides.${n}.id`,
            expected: `a shipped rule id (${[...defs.keys()].join(', ')})`,
            found: o.data.id,
          });
          return;
        }
        defs.set(o.data.id, applyOverride(def, o.data));
      });
      parsed.data.rules.forEach((raw, n) => {
        const r = RuleDefinition.safeParse(raw);
        if (!r.success) {
          problems.push(...problemsOf(r.error, `rules.${n}`));
          return;
        }
        if (defs.has(r.data.id)) {
          problems.push({
            path: `rules.${n}.id`,
            expected: 'a new rule id (use overrides to change a shipped rule)',
            found: r.data.id,
          });
          return;
        }
        defs.set(r.data.id, r.data);
      });
    }
  }
  const rules: CompiledRule[] = [];
  for (const def of defs.values()) {
    if (!def.enabled) {
      disabled.push(def.id);
      continue;
    }
    const rule = compile(def, def.id, problems);
    if (rule !== undefined) rules.push(rule);
  }
  if (problems.length > 0) throw new ConfigError(siteFile ?? shippedDir, problems);
  // Rules that claim sessions first (the engine runs them in that order too): a claimed session is left to them.
  rules.sort((a, b) => claimOrder(a) - claimOrder(b));
  return Object.freeze({ rules, disabled, sources });
}

const claimOrder = (r: CompiledRule): number => (r.claims === 'session' ? 0 : 1);
