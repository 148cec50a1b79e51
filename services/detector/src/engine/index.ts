/**
 * The detector's rule engine (pure, synchronous). The sinks wire it as:
 *
 * ```ts
 * const rules = loadRules({ siteFile });                       // throws ConfigError listing every problem
 * const engine = createEngine({ policy, privileged, rules });
 * for (const e of events) publish(engine.process(e));          // alerts raised or updated by e
 * setInterval(() => publish(engine.tick(Date.now())), 10_000); // resolutions, eviction
 * ```
 *
 * Updates are bounded: an incident is re-emitted only when something material changed (severity, status, the
 * number of tables) or a count (rows, bytes, statements) grew by 25 %; `flush()` emits the rest before a stop.
 */
export { createEngine } from './engine.js';
export type { DetectorEngine, EngineOptions, PrivilegedRoles } from './types.js';
export type { CompiledRule, RuleSet } from './rule-api.js';
export { alertId } from './alert-book.js';
export { loadRules, SHIPPED_RULES_DIR, type LoadRulesOptions } from '../rules/load.js';
