import type { Alert } from '@vigie/contract';

/** Options of {@link createAlertPrinter}. */
export interface AlertPrinterOptions {
  /** When `vigie start` started (wall clock, ms). */
  startedAtMs: number;
  /** The evidence page of an alert. */
  pageUrl: (alert: Alert) => string;
  /**
   * An alert whose last event is this much older than the start is catch-up: the collector is reading a backlog
   * (the log written while Vigie was stopped), not something happening now. Default 5 minutes.
   */
  catchUpMs?: number;
}

/**
 * What `vigie start` prints about alerts: each incident once when it opens (with its evidence page), then one line
 * when its severity rises and one when it resolves; every other revision (counts growing, re-publications after
 * a restart) prints nothing.
 */
export interface AlertPrinter {
  /**
   * Alerts already open when the terminal starts: remembered, not printed (their later rise or resolution is);
   * returns the one line that says how many and where to see them.
   */
  alreadyOpen(open: readonly Alert[], listUrl: string): string[];
  /** The lines one published alert revision deserves (often none). */
  observe(alert: Alert): string[];
}

const RANK = { info: 0, warning: 1, critical: 2 } as const;

/** `2026-11-26 07:40:36 UTC`. */
function clock(iso: string): string {
  const ms = Date.parse(iso);
  return Number.isNaN(ms) ? iso : `${new Date(ms).toISOString().replace('T', ' ').slice(0, 19)} UTC`;
}

/**
 * Text from an alert, safe for a terminal: control characters (an escape sequence in a role name or an
 * application_name could clear the screen or rewrite earlier lines) become `?`.
 */
export function terminalSafe(text: string): string {
  // eslint-disable-next-line no-control-regex -- finding control characters is the point
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, '?');
}

/** `3 h 12 min`, `45 min`, `2 days 1 h`. */
function ago(ms: number): string {
  const min = Math.floor(ms / 60_000);
  if (min < 60) return `${min} min`;
  const h = Math.floor(min / 60);
  if (h < 48) return `${h} h ${min % 60} min`;
  return `${Math.floor(h / 24)} days ${h % 24} h`;
}

/** Creates the printer; pure (no I/O): `vigie start` writes the lines it returns. */
export function createAlertPrinter({
  startedAtMs,
  pageUrl,
  catchUpMs = 5 * 60_000,
}: AlertPrinterOptions): AlertPrinter {
  const seen = new Map<string, { revision: number; severity: Alert['severity']; status: Alert['status'] }>();
  const remember = (a: Alert) => seen.set(a.id, { revision: a.revision, severity: a.severity, status: a.status });
  const what = (a: Alert) => `${a.rule}: ${terminalSafe(a.summary || a.title)}`;

  const opened = (a: Alert): string[] => {
    const lastMs = Date.parse(a.lastSeen);
    const late = startedAtMs - lastMs;
    const catchUp = late > catchUpMs ? ` [catch-up: happened ${ago(late)} before this start]` : '';
    const closed = a.status === 'resolved' ? ' (already resolved)' : '';
    return [
      `[${clock(a.firstSeen)}] ALERT ${a.severity.toUpperCase()} ${what(a)}${closed}${catchUp}`,
      `    evidence: ${pageUrl(a)}`,
    ];
  };

  return {
    alreadyOpen(open, listUrl) {
      for (const a of open) remember(a);
      if (open.length === 0) return [`No alert open so far; new ones appear below and on ${listUrl}`];
      const bySeverity = (['critical', 'warning', 'info'] as const)
        .map((s) => [s, open.filter((a) => a.severity === s).length] as const)
        .filter(([, n]) => n > 0)
        .map(([s, n]) => `${n} ${s}`)
        .join(', ');
      return [
        `${open.length} alert${open.length === 1 ? ' is' : 's are'} already open (${bySeverity}), not reprinted: see ${listUrl}`,
      ];
    },

    observe(alert) {
      const before = seen.get(alert.id);
      if (before && before.revision >= alert.revision) return [];
      remember(alert);
      if (!before) return opened(alert);
      if (before.status === 'resolved' && alert.status === 'firing') return opened(alert);
      const rose = RANK[alert.severity] > RANK[before.severity];
      const rise = rose ? ` (severity ${before.severity} → ${alert.severity})` : '';
      if (before.status === 'firing' && alert.status === 'resolved') {
        return [`[${clock(alert.lastSeen)}] resolved ${what(alert)}${rise}`];
      }
      if (rose) {
        return [`[${clock(alert.lastSeen)}] now ${alert.severity.toUpperCase()}${rise} ${what(alert)}`];
      }
      return [];
    },
  };
}
