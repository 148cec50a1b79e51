import type { SourceHealth } from '@vigie/contract';
import { publicReadinessReasons, type Readiness } from '@vigie/runtime';

/** What the collector's readiness is made of. */
export interface ReadinessState {
  /** Why reading stopped for good (Kafka refused the collector, the read loop failed). */
  fatal: string | undefined;
  health: SourceHealth;
  running: boolean;
  /** Why reading is paused (Kafka), while it is. */
  pausedReason: string | undefined;
  /** Whether a log file has been found. */
  hasFile: boolean;
}

/** The collector's readiness, with the summary anonymous callers see. */
export function pglogReadiness({ fatal, health, running, pausedReason, hasFile }: ReadinessState): Readiness {
  const reasons: string[] = [];
  if (fatal) reasons.push(fatal);
  else if (health.state === 'failing') reasons.push(`source: ${health.error ?? 'failing'} since ${health.since}`);
  if (!running) reasons.push('not started');
  if (pausedReason) reasons.push(pausedReason);
  if (running && !hasFile) reasons.push('source: no log file found yet');
  const ready = reasons.length === 0;
  // Anonymous callers see components only, except the source's error code and errno (`VIGIE_PGLOG_SOURCE_READ
  // EACCES`): no path, no message, and it is what the operator needs to act.
  const summary = publicReadinessReasons({ ready, reasons }).map((r, i) =>
    !fatal && i === 0 && health.state === 'failing' && health.error !== undefined ? `source: ${health.error}` : r,
  );
  return { ready, reasons, summary };
}
