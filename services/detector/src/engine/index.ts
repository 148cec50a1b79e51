/**
 * The detector's rule engine (pure, synchronous). The sinks wire it as:
 *
 * ```ts
 * const rules = loadRules({ siteFile });                       // from rules/load.ts: the engine never imports rules
 * const engine = createEngine({ policy, privileged, rules });
 * for (const e of events) publish(engine.process(e));          // alerts raised or updated by e
 * setInterval(() => publish(engine.tick(Date.now())), 10_000); // resolutions, eviction
 * ```
 *
 * Updates are bounded (`RevisionPolicy`): an incident is re-emitted at once when it opens, resolves or changes in
 * a way a responder acts on (severity, a new table or object, the acting role); when a count (rows, bytes,
 * statements) reaches the next power of two, at most once a minute; any other change at most every five minutes;
 * a session's end publishes its incidents' final figures.
 * `pending()` gives what is held back (the store keeps it), `flush()` emits it before a stop.
 *
 * Rules see the engine through `rule-api.ts` only. Each declares the event kinds it reads (`kinds`): the engine
 * indexes the rules of each scope by kind, so an event reaches only the rules that can use it. A rule that declares
 * `claims: 'session'` runs before the others and may claim a session (`ctx.claimSession`); the others ask
 * `ctx.claimed(key)` and leave a claimed session to it (a dump is one incident, not one per table read).
 */
export { createEngine } from './engine.js';
export type { DetectorEngine, EngineOptions, PrivilegedRoles } from './types.js';
export type { CompiledRule, RuleSet } from './rule-api.js';
export { alertId, DEFAULT_REVISION_POLICY, type RevisionPolicy, type RevisionReason } from './alert-book.js';
