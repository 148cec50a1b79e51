import type { z } from 'zod';
import type { CompiledRule } from '../engine/rule-api.js';
import type { RuleDefinition } from './schema.js';

/** What every rule type gets besides its params: the definition with its filters/exceptions compiled. */
export interface RuleBase extends Pick<CompiledRule, 'id' | 'title' | 'severity' | 'tags' | 'description' | 'accepts'> {
  readonly definition: RuleDefinition;
}

/** A rule type: code that turns validated params into a running rule. */
export interface RuleTypeImpl<P> {
  /** Schema of `params` (every field with a default and a description). */
  readonly params: z.ZodType;
  create(base: RuleBase, params: P): CompiledRule;
}

/** Helper that keeps a rule type's param type tied to its schema. */
export function defineRuleType<S extends z.ZodType>(
  params: S,
  create: (base: RuleBase, params: z.infer<S>) => CompiledRule,
): RuleTypeImpl<z.infer<S>> {
  return { params, create };
}
