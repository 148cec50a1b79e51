import type { Alert } from '@vigie/contract';
import { VigieError } from '@vigie/errors';
import { backoffMs, describeError, type Logger } from '@vigie/runtime';
import { alertRef } from '../store/alert-store.js';
import { DETECTOR_ERRORS } from '../../errors.js';

/** One alert in Alertmanager's v2 API (`POST /api/v2/alerts`). */
export interface AlertmanagerAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  endsAt?: string;
  generatorURL: string;
}

/** Where the links of an alert point. */
export interface AlertLinks {
  /** Base URL of the detector (evidence pages and API), e.g. `http://127.0.0.1:18080` (`http.publicUrl`). */
  apiBaseUrl: string;
  /** runbook_url = this + rule id. */
  runbookBaseUrl: string;
}

/**
 * Labels of an incident. They must stay the same for the whole incident (Alertmanager groups and dedupes by label
 * set), so they only hold what identifies it: the rule, where, and the alert id that keeps two incidents of one
 * rule apart. Counts and names that grow go in annotations.
 */
export function alertLabels(alert: Alert): Record<string, string> {
  return {
    alertname: alert.title || alert.rule,
    alert_id: alert.id,
    rule: alert.rule,
    severity: alert.severity,
    cluster: alert.cluster,
    ...(alert.database ? { database: alert.database } : {}),
    client_class: alert.where.clientClass,
    source: 'vigie',
  };
}

/**
 * The evidence page of an alert, `<base>/alerts/<ref>`: what the notification links to. The reference stands for
 * the id (which can hold a role name) so the URL carries nothing personal.
 */
export function evidencePageUrl(baseUrl: string, alertId: string): string {
  return `${baseUrl}/alerts/${alertRef(alertId)}`;
}

/** The Alertmanager form of an alert; a resolved alert carries `endsAt`. */
export function toAlertmanager(alert: Alert, links: AlertLinks, resolvedAt?: string): AlertmanagerAlert {
  const evidence = evidencePageUrl(links.apiBaseUrl, alert.id);
  const annotations: Record<string, string> = {
    summary: alert.summary,
    description: alert.description ?? alert.title,
    runbook_url: `${links.runbookBaseUrl}${alert.rule}`,
    // What on-call opens from the notification: the HTML evidence page (sign-in with a browser session).
    evidence_url: evidence,
    // The same evidence as JSON, for tools holding the API token.
    api_url: `${links.apiBaseUrl}/api/alerts/${encodeURIComponent(alert.id)}`,
  };
  if (alert.who.login) annotations['login'] = alert.who.login;
  if (alert.who.effectiveRole) annotations['effective_role'] = alert.who.effectiveRole;
  if (alert.where.clientAddr) annotations['client_addr'] = alert.where.clientAddr;
  if (alert.sessionId) {
    annotations['session_id'] = alert.sessionId;
    annotations['timeline_url'] =
      `${links.apiBaseUrl}/api/sessions/${encodeURIComponent(alert.cluster)}/${encodeURIComponent(alert.sessionId)}`;
  }
  if (alert.what.tables.length > 0) annotations['tables'] = alert.what.tables.slice(0, 50).join(', ');
  if (alert.what.objects !== undefined && alert.what.objects.length > 0)
    annotations['objects'] = alert.what.objects.slice(0, 50).join(', ');
  if (alert.what.rows !== undefined) annotations['rows'] = String(alert.what.rows);
  if (alert.what.bytes !== undefined) annotations['bytes'] = String(alert.what.bytes);
  const out: AlertmanagerAlert = {
    labels: alertLabels(alert),
    annotations,
    startsAt: alert.firstSeen,
    generatorURL: evidence,
  };
  if (alert.status === 'resolved') {
    // Alertmanager refuses endsAt before startsAt; event time can run ahead of this host's clock (skew, replays).
    const ends = Date.parse(resolvedAt ?? new Date().toISOString());
    out.endsAt = new Date(Math.max(ends, Date.parse(alert.lastSeen), Date.parse(alert.firstSeen))).toISOString();
  }
  return out;
}

/** Options of {@link createAlertmanagerSink}. */
export interface AlertmanagerSinkOptions {
  /** Base URL, e.g. `http://127.0.0.1:19093`. */
  url: string;
  links: AlertLinks;
  logger: Logger;
  resendIntervalMs?: number;
  timeoutMs?: number;
  maxQueue?: number;
  /** Alerts per POST. */
  chunkSize?: number;
  onPushFailure?: () => void;
  onDropped?: () => void;
  /** Called after Alertmanager accepted a *new state* of an alert (not a periodic re-send): latency metric. */
  onDelivered?: (alert: Alert, deliveredAtMs: number) => void;
  fetchImpl?: typeof fetch;
}

/** Pushes alerts to Alertmanager without ever blocking the consumer. */
export interface AlertmanagerSink {
  /** Queues states to push; a newer state of an alert replaces an older one still queued. */
  enqueue(alerts: readonly Alert[], options?: { fresh?: boolean }): void;
  /**
   * Stops re-sending these firing alerts (another detector instance owns them now and tells their changes); a push
   * already queued still goes out. Nothing is resolved.
   */
  release(ids: readonly string[]): void;
  /** Resolves once the queue is empty (or after `timeoutMs`); true when it emptied. */
  flush(timeoutMs?: number): Promise<boolean>;
  start(): void;
  /** Tries to deliver what is queued for up to `drainMs`, then stops. */
  stop(drainMs?: number): Promise<void>;
  readonly queued: number;
  /** Firing alerts re-sent periodically. */
  readonly active: number;
  /** Why the last push failed, while pushes fail. */
  readonly lastError: string | undefined;
}

interface Pending {
  alert: Alert;
  fresh: boolean;
  resolvedAt?: string;
}

function labelKey(labels: Record<string, string>): string {
  return JSON.stringify(Object.entries(labels).sort(([a], [b]) => a.localeCompare(b)));
}

/**
 * A bounded queue holding the latest state per alert id, drained by one loop that POSTs in chunks and retries
 * with backoff; firing alerts are re-sent every `resendIntervalMs` (Alertmanager otherwise resolves them after its
 * `resolve_timeout`); a resolved alert is sent with `endsAt`. When an incident's labels change (its severity rose),
 * the previous label set is resolved so on-call does not see two alerts for one incident.
 */
export function createAlertmanagerSink({
  url,
  links,
  logger,
  resendIntervalMs = 60_000,
  timeoutMs = 5_000,
  maxQueue = 10_000,
  chunkSize = 200,
  onPushFailure,
  onDropped,
  onDelivered,
  fetchImpl = fetch,
}: AlertmanagerSinkOptions): AlertmanagerSink {
  const endpoint = `${url.replace(/\/+$/, '')}/api/v2/alerts`;
  const pending = new Map<string, Pending>();
  const active = new Map<string, Alert>();
  const sentLabels = new Map<string, Record<string, string>>();
  const staleLabelSets: AlertmanagerAlert[] = [];
  let running = false;
  let halted = false;
  let loop: Promise<void> | undefined;
  let wake: (() => void) | undefined;
  let wakeBackoff: (() => void) | undefined;
  let lastError: string | undefined;
  let resendTimer: NodeJS.Timeout | undefined;
  let emptied: (() => void)[] = [];
  // States taken from the queue by the push in flight: not delivered yet, so flush() still waits for them.
  let inFlight = 0;
  const idle = () => pending.size === 0 && staleLabelSets.length === 0 && inFlight === 0;

  const poke = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };

  const put = (id: string, p: Pending) => {
    const prev = pending.get(id);
    if (prev) {
      if (prev.alert.revision > p.alert.revision) return;
      // A re-send must not hide that the queued state is new (latency is measured on new states).
      p.fresh ||= prev.fresh;
      pending.delete(id);
    } else if (pending.size >= maxQueue) {
      const oldest = pending.keys().next();
      if (!oldest.done) {
        pending.delete(oldest.value);
        onDropped?.();
      }
    }
    pending.set(id, p);
  };

  const post = async (body: AlertmanagerAlert[]) => {
    const res = await fetchImpl(endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(timeoutMs),
    });
    if (!res.ok) {
      const text = (await res.text().catch(() => '')).slice(0, 200);
      throw new VigieError(DETECTOR_ERRORS.ALERTMANAGER_PUSH, `Alertmanager answered ${res.status}: ${text}`, {
        retriable: res.status >= 500 || res.status === 429,
        context: { status: res.status },
      });
    }
  };

  const run = async () => {
    let attempt = 0;
    while (!halted) {
      if (idle()) {
        for (const e of emptied) e();
        emptied = [];
        if (!running) break;
        await new Promise<void>((resolve) => (wake = resolve));
        continue;
      }
      const chunk: [string, Pending][] = [];
      for (const entry of pending) {
        chunk.push(entry);
        if (chunk.length >= chunkSize) break;
      }
      const stale = staleLabelSets.splice(0, chunkSize);
      const body = [...stale, ...chunk.map(([, p]) => toAlertmanager(p.alert, links, p.resolvedAt))];
      for (const [id] of chunk) pending.delete(id);
      inFlight = body.length;
      try {
        await post(body);
        const at = Date.now();
        attempt = 0;
        lastError = undefined;
        inFlight = 0;
        for (const [, p] of chunk) if (p.fresh) onDelivered?.(p.alert, at);
      } catch (error) {
        onPushFailure?.();
        lastError = describeError(error);
        if (error instanceof VigieError && !error.retriable) {
          // Alertmanager refused the content (4xx): retrying the same states would block the queue forever.
          logger.error({ error: lastError, alerts: body.length }, 'alertmanager refused alerts; dropped');
          for (let i = 0; i < chunk.length; i += 1) onDropped?.();
          inFlight = 0;
          continue;
        }
        if (attempt === 0 || attempt % 10 === 0) {
          logger.warn({ attempt, error: lastError, alerts: body.length }, 'alertmanager push failed; retrying');
        }
        // Put back what no newer state replaced meanwhile.
        for (const [id, p] of chunk) if (!pending.has(id)) pending.set(id, p);
        staleLabelSets.unshift(...stale);
        inFlight = 0;
        if (!running || halted) break;
        const delay = backoffMs(attempt, { baseMs: 500, maxMs: 30_000 });
        attempt += 1;
        // New alerts do not cut the backoff short (that would hammer a failing Alertmanager); stop() does.
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, delay);
          wakeBackoff = () => {
            clearTimeout(t);
            resolve();
          };
        });
        wakeBackoff = undefined;
      }
    }
    for (const e of emptied) e();
    emptied = [];
  };

  return {
    enqueue(alerts, { fresh = true } = {}) {
      for (const alert of alerts) {
        const labels = alertLabels(alert);
        const before = sentLabels.get(alert.id);
        if (before && labelKey(before) !== labelKey(labels)) {
          staleLabelSets.push({
            labels: before,
            annotations: {},
            startsAt: alert.firstSeen,
            endsAt: new Date().toISOString(),
            generatorURL: evidencePageUrl(links.apiBaseUrl, alert.id),
          });
        }
        if (alert.status === 'firing') {
          active.delete(alert.id);
          active.set(alert.id, alert);
          sentLabels.set(alert.id, labels);
          // The resend set is bounded too: the oldest firing alert stops being re-sent (it stays in the store).
          if (active.size > maxQueue) {
            const oldest = active.keys().next();
            if (!oldest.done) {
              active.delete(oldest.value);
              sentLabels.delete(oldest.value);
            }
          }
          put(alert.id, { alert, fresh });
        } else {
          active.delete(alert.id);
          sentLabels.delete(alert.id);
          put(alert.id, { alert, fresh, resolvedAt: new Date().toISOString() });
        }
      }
      poke();
    },
    release(ids) {
      for (const id of ids) {
        active.delete(id);
        sentLabels.delete(id);
      }
    },
    flush(waitMs = 10_000) {
      if (idle()) return Promise.resolve(true);
      return new Promise<boolean>((resolve) => {
        const t = setTimeout(() => resolve(false), waitMs);
        emptied.push(() => {
          clearTimeout(t);
          resolve(true);
        });
      });
    },
    start() {
      if (running) return;
      running = true;
      loop = run();
      resendTimer = setInterval(() => {
        for (const alert of active.values()) if (!pending.has(alert.id)) put(alert.id, { alert, fresh: false });
        poke();
      }, resendIntervalMs);
      resendTimer.unref();
    },
    async stop(drainMs = 3_000) {
      if (resendTimer) clearInterval(resendTimer);
      if (!running) return;
      await this.flush(drainMs);
      running = false;
      halted = true;
      poke();
      wakeBackoff?.();
      // A push stuck in a retry is abandoned: the store restores firing alerts and re-sends them at next start.
      await Promise.race([loop, new Promise((r) => setTimeout(r, 100))]);
    },
    get queued() {
      return pending.size + inFlight;
    },
    get active() {
      return active.size;
    },
    get lastError() {
      return lastError;
    },
  };
}
