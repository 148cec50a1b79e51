import type { Alert, ClientClass, Severity } from '@vigie/contract';

/** Evidence lists keep the newest entries only: an alert about a 40-table dump stays a few kilobytes. */
export const EVIDENCE_CAP = 20;
/** Table lists are capped too (a dump of 10 000 tables still names the first 200 and counts the rest). */
export const TABLES_CAP = 200;

const SEVERITY_RANK: Record<Severity, number> = { info: 0, warning: 1, critical: 2 };

/** The more urgent of two severities: an incident's severity only goes up. */
export function maxSeverity(a: Severity, b: Severity): Severity {
  return SEVERITY_RANK[a] >= SEVERITY_RANK[b] ? a : b;
}

/** Builds a deterministic alert id: `<rule>:<cluster>:<entity>[:<window start ISO>]`. */
export function alertId(rule: string, cluster: string, entity: string, windowStartMs?: number): string {
  const base = `${rule}:${cluster}:${entity}`;
  return windowStartMs === undefined ? base : `${base}:${new Date(windowStartMs).toISOString()}`;
}

/** What a rule gives when it opens an incident; the rest of the alert starts empty. */
export interface IncidentSeed {
  id: string;
  rule: string;
  title: string;
  severity: Severity;
  cluster: string;
  database?: string | undefined;
  sessionId?: string | undefined;
  /** Session key (`cluster/session`) when the incident ends with the session. */
  sessionKey?: string | undefined;
  who: Alert['who'];
  where: { clientAddr?: string | undefined; clientClass: ClientClass; applicationName?: string | undefined };
  tags: string[];
  /** Event time (ms) of the event that opened it. */
  tsMs: number;
  /** Resolve after this long without an update (event time vs. tick time). */
  quietMs: number;
}

/** One incident: a mutable alert plus what was last emitted, so updates are emitted only when material. */
export interface Incident {
  readonly alert: Alert;
  /** Rule-specific facts for the summary (mode of a dump, trigger of a read…); not part of the contract. */
  readonly facts: Record<string, string | number | boolean>;
  sessionKey?: string | undefined;
  quietMs: number;
  lastSeenMs: number;
  dirty: boolean;
  emitted?: {
    severity: Severity;
    status: Alert['status'];
    tables: number;
    rows: number;
    bytes: number;
    statements: number;
  };
}

/** Turns an alert into its summary line at emission time (rule-specific). */
export type Summarizer = (alert: Alert, facts: Incident['facts']) => string;

/** The engine's alerts: open, update (bounded emissions), resolve, restore. */
export interface AlertBook {
  get(id: string): Incident | undefined;
  /** Opens the incident if needed, applies `mutate`, records the evidence, and queues an emission if material. */
  update(seed: () => IncidentSeed, id: string, mutate: (i: Incident) => void, evidence: Evidence): Incident;
  /**
   * Resolves one firing incident now because its condition cleared (a slot back under its WAL threshold);
   * `evidence` is the event that showed it. No-op when the incident is unknown or already resolved.
   */
  resolve(id: string, evidence: Evidence): void;
  /** Resolves incidents whose quiet time passed or whose session ended `endedGraceMs` ago. */
  tick(nowMs: number, sessionEndedAt: (key: string) => number | undefined): void;
  /** Loads alerts still firing after a restart; the next update continues their revision. */
  restore(alerts: readonly Alert[], quietMsOf: (rule: string) => number): void;
  /** Emissions queued since the last drain (each a copy). */
  drain(): Alert[];
  /** Emits (into the queue) every incident changed since its last emission: the final state before a stop. */
  flush(): void;
  /** Current state of every incident (copies). */
  all(): Alert[];
  readonly size: number;
}

/** One piece of evidence: the event id and, for statements, the redacted text. */
export interface Evidence {
  eventId: string;
  tsMs: number;
  statement?: string | undefined;
}

/** Adds tables (deduplicated, capped) to an alert. */
export function addTables(alert: Alert, tables: Iterable<string>): void {
  for (const t of tables) {
    if (alert.what.tables.length >= TABLES_CAP) return;
    if (!alert.what.tables.includes(t)) alert.what.tables.push(t);
  }
}

function pushCapped(list: string[], value: string): void {
  if (list[list.length - 1] === value) return;
  list.push(value);
  if (list.length > EVIDENCE_CAP) list.splice(0, list.length - EVIDENCE_CAP);
}

function copy(alert: Alert): Alert {
  return {
    ...alert,
    who: { ...alert.who },
    where: { ...alert.where },
    what: { ...alert.what, tables: [...alert.what.tables] },
    evidence: { eventIds: [...alert.evidence.eventIds], statements: [...alert.evidence.statements] },
    tags: [...alert.tags],
  };
}

/**
 * A count grew enough to tell on-call: +25 % (so a count going to N gives O(log N) updates, ~60 for a million)
 * and at least one more.
 */
function grew(now: number, then: number): boolean {
  return now > then && now >= then * 1.25;
}

/** Creates the alert book. `summarize` renders an alert's summary line by rule id. */
export function createAlertBook({
  summarize,
  endedGraceMs = 60_000,
  maxIncidents = 20_000,
  retainResolvedMs = 60 * 60_000,
}: {
  summarize: (rule: string) => Summarizer | undefined;
  endedGraceMs?: number;
  maxIncidents?: number;
  retainResolvedMs?: number;
}): AlertBook {
  const incidents = new Map<string, Incident>();
  let queue = new Map<string, Alert>();

  function render(i: Incident): void {
    const s = summarize(i.alert.rule);
    if (s !== undefined) i.alert.summary = s(i.alert, i.facts);
  }

  function emit(i: Incident): void {
    render(i);
    i.alert.revision += 1;
    const a = i.alert;
    i.emitted = {
      severity: a.severity,
      status: a.status,
      tables: a.what.tables.length,
      rows: a.what.rows ?? 0,
      bytes: a.what.bytes ?? 0,
      statements: a.what.statements ?? 0,
    };
    i.dirty = false;
    queue.set(a.id, copy(a));
  }

  function material(i: Incident): boolean {
    const e = i.emitted;
    if (e === undefined) return true;
    const a = i.alert;
    return (
      e.severity !== a.severity ||
      e.status !== a.status ||
      e.tables !== a.what.tables.length ||
      grew(a.what.rows ?? 0, e.rows) ||
      grew(a.what.bytes ?? 0, e.bytes) ||
      grew(a.what.statements ?? 0, e.statements)
    );
  }

  function makeRoom(): void {
    if (incidents.size < maxIncidents) return;
    // Drop the oldest resolved incident, else the oldest of all (it resolves for the sinks by quiet time).
    let victim: string | undefined;
    for (const [id, i] of incidents) {
      if (i.alert.status === 'resolved') {
        victim = id;
        break;
      }
      victim ??= id;
    }
    if (victim !== undefined) incidents.delete(victim);
  }

  return {
    get: (id) => incidents.get(id),
    update(seed, id, mutate, evidence) {
      let i = incidents.get(id);
      if (i === undefined) {
        makeRoom();
        const s = seed();
        const ts = new Date(s.tsMs).toISOString();
        i = {
          alert: {
            v: 1,
            id,
            rule: s.rule,
            severity: s.severity,
            status: 'firing',
            title: s.title,
            summary: '',
            cluster: s.cluster,
            ...(s.database !== undefined && { database: s.database }),
            ...(s.sessionId !== undefined && { sessionId: s.sessionId }),
            who: s.who,
            where: Object.fromEntries(Object.entries(s.where).filter(([, v]) => v !== undefined)) as Alert['where'],
            what: { tables: [] },
            evidence: { eventIds: [], statements: [] },
            tags: s.tags,
            firstSeen: ts,
            lastSeen: ts,
            revision: 0,
          },
          facts: {},
          sessionKey: s.sessionKey,
          quietMs: s.quietMs,
          lastSeenMs: s.tsMs,
          dirty: true,
        };
        incidents.set(id, i);
      }
      const a = i.alert;
      if (a.status === 'resolved') a.status = 'firing';
      mutate(i);
      if (evidence.tsMs > i.lastSeenMs) {
        i.lastSeenMs = evidence.tsMs;
        a.lastSeen = new Date(evidence.tsMs).toISOString();
      }
      if (evidence.tsMs < Date.parse(a.firstSeen)) a.firstSeen = new Date(evidence.tsMs).toISOString();
      pushCapped(a.evidence.eventIds, evidence.eventId);
      if (evidence.statement !== undefined) pushCapped(a.evidence.statements, evidence.statement);
      i.dirty = true;
      if (material(i)) emit(i);
      return i;
    },
    resolve(id, evidence) {
      const i = incidents.get(id);
      if (i === undefined || i.alert.status === 'resolved') return;
      if (evidence.tsMs > i.lastSeenMs) {
        i.lastSeenMs = evidence.tsMs;
        i.alert.lastSeen = new Date(evidence.tsMs).toISOString();
      }
      pushCapped(i.alert.evidence.eventIds, evidence.eventId);
      i.alert.status = 'resolved';
      emit(i);
    },
    tick(nowMs, sessionEndedAt) {
      for (const [id, i] of incidents) {
        if (i.alert.status === 'resolved') {
          if (nowMs - i.lastSeenMs >= retainResolvedMs) incidents.delete(id);
          continue;
        }
        const ended = i.sessionKey === undefined ? undefined : sessionEndedAt(i.sessionKey);
        if ((ended !== undefined && nowMs - ended >= endedGraceMs) || nowMs - i.lastSeenMs >= i.quietMs) {
          i.alert.status = 'resolved';
          emit(i);
        }
      }
    },
    restore(alerts, quietMsOf) {
      for (const a of alerts) {
        if (a.status !== 'firing' || incidents.has(a.id)) continue;
        const alert = copy(a);
        const i: Incident = {
          alert,
          facts: {},
          sessionKey: a.sessionId === undefined ? undefined : `${a.cluster}/${a.sessionId}`,
          quietMs: quietMsOf(a.rule),
          lastSeenMs: Date.parse(a.lastSeen),
          dirty: false,
        };
        i.emitted = {
          severity: a.severity,
          status: a.status,
          tables: a.what.tables.length,
          rows: a.what.rows ?? 0,
          bytes: a.what.bytes ?? 0,
          statements: a.what.statements ?? 0,
        };
        incidents.set(a.id, i);
      }
    },
    drain() {
      const out = [...queue.values()];
      queue = new Map();
      return out;
    },
    flush() {
      for (const i of incidents.values()) if (i.dirty) emit(i);
    },
    all() {
      return [...incidents.values()].map((i) => copy(i.alert));
    },
    get size() {
      return incidents.size;
    },
  };
}
