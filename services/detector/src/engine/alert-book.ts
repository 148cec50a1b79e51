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
  /** Resolve after this long without an update (on the detector's clock: see {@link Incident.touchedMs}). */
  quietMs: number;
}

/** What a revision told on-call, to compare the incident with: the fields a responder acts on. */
interface Emitted {
  severity: Severity;
  status: Alert['status'];
  tables: number;
  objects: number;
  rows: number;
  bytes: number;
  statements: number;
  effectiveRole: string | undefined;
  /** Event time of the incident when it was emitted (its lastSeen). */
  atMs: number;
  /** The tick clock when it was emitted (undefined before the first tick saw it). */
  tickMs: number | undefined;
}

/** One incident: a mutable alert plus what was last emitted, so updates are emitted only when material. */
export interface Incident {
  readonly alert: Alert;
  /** Rule-specific facts for the summary (mode of a dump, trigger of a read…); not part of the contract. */
  readonly facts: Record<string, string | number | boolean>;
  sessionKey?: string | undefined;
  quietMs: number;
  /** Event time of its newest evidence (the alert's `lastSeen`, on the server's clock). */
  lastSeenMs: number;
  /**
   * The detector's clock when its newest evidence arrived (its event time in a replay). Quiet time, a session's
   * end grace and the retention of resolved incidents count on this clock, the one `tick` is given: a source
   * whose clock is ahead of the detector's (or behind it) neither keeps an incident open forever nor closes it at
   * once, and a backlog read after a stop resolves a quiet time after it was read, not on arrival.
   */
  touchedMs: number;
  /** Changed since its last emission (the next revision will carry it). */
  dirty: boolean;
  /** Changed since the last {@link AlertBook.takeUnsaved} (the store's pending copy is behind). */
  unsaved: boolean;
  /**
   * A rule sets this when the update tells on-call something new that the alert's fields do not show (a further
   * server setting tampered with): the next emission is immediate, like a new table.
   */
  news?: boolean;
  emitted?: Emitted;
}

/** Turns an alert into its summary line at emission time (rule-specific). */
export type Summarizer = (alert: Alert, facts: Incident['facts']) => string;

/** Why an incident was re-published: the `reason` label of `vigie_alert_revisions_total`. */
export type RevisionReason = 'opened' | 'changed' | 'counts' | 'refresh' | 'ended' | 'resolved' | 'flush' | 'response';

/**
 * When an incident is re-published (a revision: Kafka, store, Alertmanager). At once when it opens, resolves or
 * changes in a way a responder acts on (severity, a new table or object, the acting role); when a count (rows,
 * bytes, statements) reaches the next power of two, at most every `countsEveryMs`; any other change at most every
 * `refreshEveryMs`. Between revisions the incident is `dirty` and its state is kept (store `pending`, flush at stop).
 */
export interface RevisionPolicy {
  countsEveryMs: number;
  refreshEveryMs: number;
}

/** Defaults of {@link RevisionPolicy}: a 10-minute session with steady traffic gives about half a dozen revisions. */
export const DEFAULT_REVISION_POLICY: RevisionPolicy = { countsEveryMs: 60_000, refreshEveryMs: 5 * 60_000 };

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
  /**
   * Sets the detector's clock for the evidence that follows (the arrival of the event being processed; its event
   * time in a replay). Incidents updated or resolved after it are {@link Incident.touchedMs touched} then.
   */
  arrive(arrivedMs: number): void;
  /**
   * Resolves incidents quiet for their quiet time or whose session ended `endedGraceMs` ago, both on the detector's
   * clock (`sessionEndedAt` gives the detector's clock when the session's end arrived).
   */
  tick(nowMs: number, sessionEndedAt: (key: string) => number | undefined): void;
  /**
   * The session ended (its last statement or its final socket counters are in): its incidents' held-back changes are
   * its final figures, published now rather than at the resolution.
   */
  settle(sessionKey: string): void;
  /**
   * Loads alerts still firing after a restart; the next update continues their revision. Their quiet time starts
   * at `nowMs` (the detector's clock at the restore; default: each alert's `lastSeen`). An incident the book holds
   * already (rebuilt from the input) keeps its state and continues from the stored revision. With `replayedSinceMs`
   * (the book was rebuilt from the input's events since then), a stored alert seen since that the rebuild did not
   * produce comes from events after the committed offset, which will be consumed again: it is not loaded (its
   * counts would be told twice), only its revision is remembered for when those events open it again.
   */
  restore(
    alerts: readonly Alert[],
    quietMsOf: (rule: string) => number,
    nowMs?: number,
    replayedSinceMs?: number,
  ): void;
  /**
   * Applies a change from outside the rules (an active response recorded on the alert) and emits it as a revision
   * at once; false when the book does not hold the incident.
   */
  annotate(id: string, mutate: (alert: Alert) => void): boolean;
  /** Emissions queued since the last drain (each a copy). */
  drain(): Alert[];
  /** Emits (into the queue) every incident changed since its last emission: the final state before a stop. */
  flush(): void;
  /**
   * Incidents changed since the last call and not emitted since (copies, at their last emitted revision): the
   * store keeps them as `pending`, so a crash between revisions loses no count.
   */
  takeUnsaved(): Alert[];
  /** Current state of every incident (copies). */
  all(): Alert[];
  readonly size: number;
  /** Revisions emitted and updates held back, by rule and reason, since creation (the caller diffs them). */
  readonly counts: {
    readonly revisions: ReadonlyMap<string, number>;
    readonly held: ReadonlyMap<string, number>;
  };
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

/** Adds objects (settings, extensions, log files; deduplicated, capped like tables) to an alert. */
export function addObjects(alert: Alert, objects: Iterable<string>): void {
  const list = (alert.what.objects ??= []);
  for (const o of objects) {
    if (list.length >= TABLES_CAP) return;
    if (!list.includes(o)) list.push(o);
  }
}

function pushCapped(list: string[], value: string): void {
  if (list[list.length - 1] === value) return;
  list.push(value);
  // shift, not splice: splice returns (allocates) the removed entries, once per update of a long incident.
  while (list.length > EVIDENCE_CAP) list.shift();
}

/**
 * An incident as the book keeps it: with `alert.firstSeen` in ms, remembered with the text it was read from (every
 * update compares with it, and Date.parse of the same text each time was a visible share of an update; a change of
 * the text made outside the book is read again).
 */
interface Kept extends Incident {
  firstSeenText: string;
  firstSeenMs: number;
}

function firstSeenOf(i: Kept): number {
  if (i.alert.firstSeen !== i.firstSeenText) {
    i.firstSeenText = i.alert.firstSeen;
    i.firstSeenMs = Date.parse(i.alert.firstSeen);
  }
  return i.firstSeenMs;
}

function copy(alert: Alert): Alert {
  return {
    ...alert,
    who: { ...alert.who },
    where: { ...alert.where },
    what: {
      ...alert.what,
      tables: [...alert.what.tables],
      ...(alert.what.objects !== undefined && { objects: [...alert.what.objects] }),
    },
    evidence: { eventIds: [...alert.evidence.eventIds], statements: [...alert.evidence.statements] },
    tags: [...alert.tags],
    ...(alert.response !== undefined && { response: alert.response.map((r) => ({ ...r })) }),
  };
}

/** A count reached the next power of two (1, 2, 4 … 2^k): a count going to N gives at most log2(N) + 1 steps. */
function crossed(now: number, then: number): boolean {
  return now > then && (then === 0 || Math.floor(Math.log2(now)) > Math.floor(Math.log2(then)));
}

function snapshot(a: Alert, atMs: number, tickMs: number | undefined): Emitted {
  return {
    severity: a.severity,
    status: a.status,
    tables: a.what.tables.length,
    objects: a.what.objects?.length ?? 0,
    rows: a.what.rows ?? 0,
    bytes: a.what.bytes ?? 0,
    statements: a.what.statements ?? 0,
    effectiveRole: a.who.effectiveRole,
    atMs,
    tickMs,
  };
}

/** How an incident differs from its last revision, most urgent first. */
type Change = 'opened' | 'changed' | 'counts' | 'minor' | 'none';

function changeOf(i: Incident): Change {
  const e = i.emitted;
  if (e === undefined) return 'opened';
  const a = i.alert;
  if (
    i.news === true ||
    e.severity !== a.severity ||
    e.status !== a.status ||
    e.tables !== a.what.tables.length ||
    e.objects !== (a.what.objects?.length ?? 0) ||
    e.effectiveRole !== a.who.effectiveRole
  )
    return 'changed';
  if (
    crossed(a.what.rows ?? 0, e.rows) ||
    crossed(a.what.bytes ?? 0, e.bytes) ||
    crossed(a.what.statements ?? 0, e.statements)
  )
    return 'counts';
  return i.dirty ? 'minor' : 'none';
}

function bump(map: Map<string, number>, key: string): void {
  map.set(key, (map.get(key) ?? 0) + 1);
}

/** Creates the alert book. `summarize` renders an alert's summary line by rule id. */
export function createAlertBook({
  summarize,
  endedGraceMs = 60_000,
  maxIncidents = 20_000,
  retainResolvedMs = 60 * 60_000,
  revisions = DEFAULT_REVISION_POLICY,
}: {
  summarize: (rule: string) => Summarizer | undefined;
  endedGraceMs?: number;
  maxIncidents?: number;
  retainResolvedMs?: number;
  revisions?: RevisionPolicy;
}): AlertBook {
  const incidents = new Map<string, Kept>();
  /** Incidents changed since the last `takeUnsaved` (what it walks: not every incident, each batch). */
  const unsavedSet = new Set<Incident>();
  /** Revisions stored for alerts not loaded (see `restore`): an incident opened with one of these ids continues it. */
  const revisionFloors = new Map<string, number>();
  let queue = new Map<string, Alert>();
  /** The latest time `tick` was given: emissions remember it, so ticks measure intervals on one clock. */
  let tickClock: number | undefined;
  /** The detector's clock for the evidence being recorded (see `arrive`); undefined: the evidence's event time. */
  let arrivedMs: number | undefined;
  const revisionCounts = new Map<string, number>();
  /** Incident ids by session key: a session's end settles its incidents without scanning them all. */
  const bySession = new Map<string, Set<string>>();
  const index = (i: Incident) => {
    if (i.sessionKey === undefined) return;
    let ids = bySession.get(i.sessionKey);
    if (ids === undefined) bySession.set(i.sessionKey, (ids = new Set()));
    ids.add(i.alert.id);
  };
  const forget = (id: string) => {
    const i = incidents.get(id);
    incidents.delete(id);
    if (i !== undefined) unsavedSet.delete(i);
    if (i?.sessionKey === undefined) return;
    const ids = bySession.get(i.sessionKey);
    ids?.delete(id);
    if (ids?.size === 0) bySession.delete(i.sessionKey);
  };
  const heldCounts = new Map<string, number>();

  function render(i: Incident): void {
    const s = summarize(i.alert.rule);
    if (s !== undefined) i.alert.summary = s(i.alert, i.facts);
  }

  function emit(i: Incident, reason: RevisionReason): void {
    render(i);
    i.alert.revision += 1;
    const a = i.alert;
    i.emitted = snapshot(a, i.lastSeenMs, tickClock);
    i.dirty = false;
    i.unsaved = false;
    i.news = false;
    bump(revisionCounts, `${a.rule}\u0000${reason}`);
    queue.set(a.id, copy(a));
  }

  /**
   * Emits the incident if its change is due by the revision policy; `elapsed` is the time since its last
   * revision on the caller's clock (event time for updates, tick time for ticks). Returns whether it emitted.
   */
  function emitIfDue(i: Incident, elapsed: number): boolean {
    const change = changeOf(i);
    if (change === 'opened' || change === 'changed') {
      emit(i, change);
      return true;
    }
    if (change === 'counts' && elapsed >= revisions.countsEveryMs) {
      emit(i, 'counts');
      return true;
    }
    if (change !== 'none' && elapsed >= revisions.refreshEveryMs) {
      emit(i, 'refresh');
      return true;
    }
    return false;
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
    if (victim !== undefined) forget(victim);
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
            revision: revisionFloors.get(id) ?? 0,
          },
          facts: {},
          sessionKey: s.sessionKey,
          quietMs: s.quietMs,
          lastSeenMs: s.tsMs,
          touchedMs: arrivedMs ?? s.tsMs,
          dirty: true,
          unsaved: true,
          firstSeenText: '',
          firstSeenMs: Number.NaN,
        };
        incidents.set(id, i);
        revisionFloors.delete(id);
        index(i);
      }
      const a = i.alert;
      if (a.status === 'resolved') a.status = 'firing';
      i.touchedMs = Math.max(i.touchedMs, arrivedMs ?? evidence.tsMs);
      mutate(i);
      if (evidence.tsMs > i.lastSeenMs) {
        i.lastSeenMs = evidence.tsMs;
        a.lastSeen = new Date(evidence.tsMs).toISOString();
      }
      if (evidence.tsMs < firstSeenOf(i)) a.firstSeen = new Date(evidence.tsMs).toISOString();
      pushCapped(a.evidence.eventIds, evidence.eventId);
      if (evidence.statement !== undefined) pushCapped(a.evidence.statements, evidence.statement);
      i.dirty = true;
      i.unsaved = true;
      unsavedSet.add(i);
      // Event time decides between two revisions of an update (a replay holds back as much as the live detector).
      if (!emitIfDue(i, i.lastSeenMs - (i.emitted?.atMs ?? i.lastSeenMs))) bump(heldCounts, a.rule);
      return i;
    },
    resolve(id, evidence) {
      const i = incidents.get(id);
      if (i === undefined || i.alert.status === 'resolved') return;
      i.touchedMs = Math.max(i.touchedMs, arrivedMs ?? evidence.tsMs);
      if (evidence.tsMs > i.lastSeenMs) {
        i.lastSeenMs = evidence.tsMs;
        i.alert.lastSeen = new Date(evidence.tsMs).toISOString();
      }
      pushCapped(i.alert.evidence.eventIds, evidence.eventId);
      i.alert.status = 'resolved';
      emit(i, 'resolved');
    },
    arrive(ms) {
      arrivedMs = ms;
    },
    tick(nowMs, sessionEndedAt) {
      tickClock = nowMs;
      for (const [id, i] of incidents) {
        if (i.alert.status === 'resolved') {
          if (nowMs - i.touchedMs >= retainResolvedMs) forget(id);
          continue;
        }
        const ended = i.sessionKey === undefined ? undefined : sessionEndedAt(i.sessionKey);
        if ((ended !== undefined && nowMs - ended >= endedGraceMs) || nowMs - i.touchedMs >= i.quietMs) {
          // The resolution carries every count held back since the last revision: the final state is never lost.
          i.alert.status = 'resolved';
          emit(i, 'resolved');
          continue;
        }
        const e = i.emitted;
        if (!i.dirty || e === undefined) continue;
        // Held-back changes of an incident with no new event: published on the tick clock (a quiet session's last
        // counts do not wait for its resolution). An emission before any tick starts its interval now.
        if (e.tickMs === undefined) e.tickMs = nowMs;
        else emitIfDue(i, nowMs - e.tickMs);
      }
    },
    settle(sessionKey) {
      for (const id of bySession.get(sessionKey) ?? []) {
        const i = incidents.get(id);
        if (i !== undefined && i.dirty && i.alert.status === 'firing' && i.emitted !== undefined) emit(i, 'ended');
      }
    },
    restore(alerts, quietMsOf, nowMs, replayedSinceMs) {
      for (const a of alerts) {
        const known = incidents.get(a.id);
        // Rebuilt from the input already (a partition taken over): its state stands, its next revision follows the
        // last one told.
        if (known !== undefined) {
          known.alert.revision = Math.max(known.alert.revision, a.revision);
          continue;
        }
        if (a.status !== 'firing') continue;
        const lastSeenMs = Date.parse(a.lastSeen);
        if (replayedSinceMs !== undefined && lastSeenMs >= replayedSinceMs) {
          revisionFloors.set(a.id, Math.max(revisionFloors.get(a.id) ?? 0, a.revision));
          continue;
        }
        const alert = copy(a);
        const i: Kept = {
          alert,
          facts: {},
          sessionKey: a.sessionId === undefined ? undefined : `${a.cluster}/${a.sessionId}`,
          quietMs: quietMsOf(a.rule),
          lastSeenMs,
          touchedMs: nowMs ?? lastSeenMs,
          dirty: false,
          unsaved: false,
          // The store gives the latest state (a pending one when the last counts were held back): that is the
          // baseline; what the previous process held back goes out with the next revision (or the resolution).
          emitted: snapshot(alert, lastSeenMs, tickClock),
          firstSeenText: '',
          firstSeenMs: Number.NaN,
        };
        incidents.set(a.id, i);
        index(i);
      }
    },
    annotate(id, mutate) {
      const i = incidents.get(id);
      if (i === undefined) return false;
      mutate(i.alert);
      emit(i, 'response');
      return true;
    },
    drain() {
      // The engine drains after every event, and most events emit nothing: no new queue for those.
      if (queue.size === 0) return [];
      const out = [...queue.values()];
      queue = new Map();
      return out;
    },
    flush() {
      for (const i of incidents.values()) if (i.dirty) emit(i, 'flush');
    },
    takeUnsaved() {
      const out: Alert[] = [];
      for (const i of unsavedSet) {
        if (!i.unsaved) continue;
        i.unsaved = false;
        // Emitted incidents are in the queue already; a never-emitted one has no row to attach a pending state to.
        if (i.dirty && i.emitted !== undefined) out.push(copy(i.alert));
      }
      unsavedSet.clear();
      return out;
    },
    all() {
      return [...incidents.values()].map((i) => copy(i.alert));
    },
    get size() {
      return incidents.size;
    },
    counts: { revisions: revisionCounts, held: heldCounts },
  };
}
