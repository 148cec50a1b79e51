import { isIP } from 'node:net';
import { ClientClass, Severity } from '@vigie/contract';
import { z } from 'zod';
import { RULE_TYPES } from './types/index.js';

/** The rule types implemented in code (named once, in `types/index.ts`); a rule file picks one and gives it parameters. */
export const RuleType = z.enum(RULE_TYPES);
export type RuleType = z.infer<typeof RuleType>;

const Cidr = z.string().refine((s) => {
  const [addr, bits, extra] = s.split('/');
  if (extra !== undefined || addr === undefined || bits === undefined || !/^\d{1,3}$/.test(bits)) return false;
  const family = isIP(addr);
  return family !== 0 && Number(bits) <= (family === 4 ? 32 : 128);
}, 'a CIDR such as 10.20.0.0/24 or fd00::/64');

const Pattern = z.string().min(1).describe('a name, or a pattern where * matches any run of characters');

/** Which events a rule looks at (all given fields must match; an absent field matches everything). */
export const RuleFilter = z
  .object({
    roles: z.array(Pattern).optional().describe('login or effective role matches one of these'),
    excludeRoles: z.array(Pattern).optional().describe('skip events whose login or effective role matches'),
    databases: z.array(Pattern).optional().describe('database matches one of these'),
    clientClasses: z.array(ClientClass).optional().describe('bastion / non-bastion / local / unknown'),
  })
  .strict();
export type RuleFilter = z.infer<typeof RuleFilter>;

/** An exception: an event matching every field given here is ignored by the rule (Falco-style exceptions). */
export const RuleException = z
  .object({
    name: z.string().optional().describe('why this exception exists (ticket, owner)'),
    roles: z.array(Pattern).optional(),
    clients: z.array(Cidr).optional().describe('client networks'),
    databases: z.array(Pattern).optional(),
    applications: z.array(Pattern).optional().describe('application_name patterns (spoofable: use with care)'),
  })
  .strict()
  .refine(
    (e) => e.roles ?? e.clients ?? e.databases ?? e.applications,
    'at least one of roles/clients/databases/applications',
  );
export type RuleException = z.infer<typeof RuleException>;

/** A rule as written in YAML: data only. `params` are validated by the rule type's own schema. */
export const RuleDefinition = z
  .object({
    id: z.string().regex(/^[a-z][a-z0-9-]*$/, 'a lower-case kebab-case id'),
    title: z.string().min(3),
    description: z.string().min(20).describe('what it detects and how to tune it'),
    severity: Severity.describe('base severity; a rule type may raise it (e.g. outside the bastion)'),
    type: RuleType,
    enabled: z.boolean().default(true),
    filters: RuleFilter.default({}),
    params: z.record(z.string(), z.unknown()).default({}),
    watchlist: z
      .record(z.string(), z.unknown())
      .default({})
      .describe('params merged over `params` (nested blocks key by key) for roles in the policy roles.watchlist'),
    exceptions: z.array(RuleException).default([]),
    tags: z.array(z.string()).default([]).describe('MITRE ATT&CK technique ids and free tags'),
  })
  .strict();
export type RuleDefinition = z.infer<typeof RuleDefinition>;

/** A site's change to a shipped rule: never edits the shipped file, only overrides or appends. */
export const RuleOverride = z
  .object({
    id: z.string(),
    enabled: z.boolean().optional(),
    severity: Severity.optional(),
    /** Merged key by key over the shipped params. */
    params: z.record(z.string(), z.unknown()).optional(),
    /** Merged key by key over the shipped watchlist params. */
    watchlist: z.record(z.string(), z.unknown()).optional(),
    /** Replaces the shipped filters when given. */
    filters: RuleFilter.optional(),
    /** Appended to the shipped exceptions. */
    exceptions: z.array(RuleException).optional(),
    /** Appended to the shipped tags. */
    tags: z.array(z.string()).optional(),
  })
  .strict();
export type RuleOverride = z.infer<typeof RuleOverride>;

/** The site rule file: overrides of shipped rules, and new rules of the existing types. */
export const SiteRulesFile = z
  .object({
    overrides: z.array(RuleOverride).default([]),
    rules: z.array(RuleDefinition).default([]),
  })
  .strict();
export type SiteRulesFile = z.infer<typeof SiteRulesFile>;

/** The site file's outer shape, checked first; its entries are then validated one by one (every problem at once). */
export const SiteRulesShape = z
  .object({
    overrides: z.array(z.unknown()).default([]),
    rules: z.array(z.unknown()).default([]),
  })
  .strict();
