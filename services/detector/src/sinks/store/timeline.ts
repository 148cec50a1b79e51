import type { VigieEvent } from '@vigie/contract';
import type { TimelineEntry } from './alert-store.js';

/** Longest statement text kept in a timeline entry (already redacted by the collector). */
const MAX_TEXT = 1000;

/** Options of {@link createTimelineRecorder}. */
export interface TimelineRecorderOptions {
  /** Recent events kept in memory per session, written out when the session alerts. */
  preAlertEvents: number;
  /** Most events written for one alerting session. */
  maxEventsPerSession: number;
  /** Most sessions buffered at once (least recently active dropped first). */
  maxSessions: number;
}

/**
 * Decides which events go to the session timeline table. Storing every event of every session would cost a write
 * per event (tens of thousands a second); the timeline matters for sessions with an alert. So each session keeps a
 * small ring of its latest events in memory; when the session raises an alert the ring is written, and so is every
 * later event of that session, up to a cap. Memory and rows are bounded: `maxSessions × preAlertEvents` entries,
 * `maxEventsPerSession` rows per alerting session, plus retention by age in the store.
 */
export interface TimelineRecorder {
  /** Records an event; returns it as an entry to write now when its session is alerting. */
  observe(event: VigieEvent): TimelineEntry | undefined;
  /** Marks a session alerting; returns its buffered entries to write. */
  markAlerting(cluster: string, sessionId: string): TimelineEntry[];
  /** Drops sessions idle since before `olderThanMs` (wall clock). */
  evictIdle(olderThanMs: number): void;
  readonly size: number;
}

interface SessionBuffer {
  readonly cluster: string;
  readonly sessionId: string;
  /** `<cluster>/<session id>`. */
  readonly key: string;
  ring: TimelineEntry[];
  alerting: boolean;
  written: number;
  touchedMs: number;
}

/** The redacted, compact form of an event for the timeline: counts, names and redacted text, no values. */
export function timelineBody(event: VigieEvent): Record<string, unknown> {
  const s = event.session;
  switch (event.kind) {
    case 'statement': {
      // Plain assignments, no spreads: this runs for every event (measured ~2x cheaper than the spread form).
      const body: Record<string, unknown> = {
        class: event.audit.class,
        command: event.audit.command,
        objects: event.audit.objects.length === 0 ? [] : event.audit.objects.map((o) => o.name),
        sqlKind: event.sql.kind,
        text: event.sql.redacted.length > MAX_TEXT ? `${event.sql.redacted.slice(0, MAX_TEXT)}…` : event.sql.redacted,
      };
      if (event.audit.rows !== undefined) body['rows'] = event.audit.rows;
      if (event.effectiveRole !== undefined) body['effectiveRole'] = event.effectiveRole;
      if (event.sql.copy) body['copy'] = event.sql.copy;
      return body;
    }
    case 'session.start':
      return {
        user: s?.user,
        database: s?.database,
        clientAddr: s?.clientAddr,
        applicationName: s?.applicationName,
        ...(event.ssl !== undefined ? { ssl: true } : {}),
      };
    case 'session.end':
      return { durationMs: event.durationMs };
    case 'egress.sample':
      return { bytesSent: event.bytesSent, bytesSentDelta: event.bytesSentDelta, final: event.final };
    case 'replication.command':
      return { command: event.command, text: event.text.slice(0, MAX_TEXT) };
    case 'session.error':
      return { sqlstate: event.sqlstate, message: event.message.slice(0, MAX_TEXT) };
    case 'auth.failure':
      return { sqlstate: event.sqlstate, reason: event.reason };
    case 'change.txn':
      return { xid: event.xid, totalRows: event.totalRows, tables: event.tables.map((t) => t.table) };
    default:
      return {};
  }
}

/** Creates a {@link TimelineRecorder}; `now` is injectable for tests. */
export function createTimelineRecorder(
  { preAlertEvents, maxEventsPerSession, maxSessions }: TimelineRecorderOptions,
  now: () => number = Date.now,
): TimelineRecorder {
  // Insertion order = creation order. A touch does not re-insert (delete + set per event cost more than the rest of
  // the recorder); when full, the oldest *created* session goes, which for sessions is close to least recent.
  const sessions = new Map<string, SessionBuffer>();
  // The same buffers by cluster then session id: an event finds its buffer without building (and hashing) a
  // `<cluster>/<session>` key. Session ids hold no '/' (the contract's pattern), so the two agree.
  const byCluster = new Map<string, Map<string, SessionBuffer>>();

  const drop = (buf: SessionBuffer): void => {
    sessions.delete(buf.key);
    const ids = byCluster.get(buf.cluster);
    ids?.delete(buf.sessionId);
    if (ids?.size === 0) byCluster.delete(buf.cluster);
  };

  const touch = (cluster: string, sessionId: string): SessionBuffer => {
    let buf = byCluster.get(cluster)?.get(sessionId);
    if (buf === undefined) {
      while (sessions.size >= maxSessions) {
        const oldest = sessions.values().next();
        if (oldest.done) break;
        drop(oldest.value);
      }
      buf = { cluster, sessionId, key: `${cluster}/${sessionId}`, ring: [], alerting: false, written: 0, touchedMs: 0 };
      sessions.set(buf.key, buf);
      let ids = byCluster.get(cluster);
      if (ids === undefined) byCluster.set(cluster, (ids = new Map()));
      ids.set(sessionId, buf);
    }
    buf.touchedMs = now();
    return buf;
  };

  return {
    observe(event) {
      const sessionId = event.session?.id;
      if (sessionId === undefined) return undefined;
      const buf = touch(event.cluster, sessionId);
      const entry: TimelineEntry = {
        cluster: event.cluster,
        sessionId,
        eventId: event.id,
        ts: event.ts,
        kind: event.kind,
        body: timelineBody(event),
      };
      let out: TimelineEntry | undefined;
      if (buf.alerting) {
        if (buf.written < maxEventsPerSession) {
          buf.written += 1;
          out = entry;
        }
      } else if (preAlertEvents > 0) {
        buf.ring.push(entry);
        if (buf.ring.length > preAlertEvents) buf.ring.shift();
      }
      // An ended session sends nothing more; its buffer (not its alerting mark for replays) can go.
      if (event.kind === 'session.end' && !buf.alerting) drop(buf);
      return out;
    },
    markAlerting(cluster, sessionId) {
      const buf = touch(cluster, sessionId);
      if (buf.alerting) return [];
      buf.alerting = true;
      const out = buf.ring.slice(0, maxEventsPerSession);
      buf.written = out.length;
      buf.ring = [];
      return out;
    },
    evictIdle(olderThanMs) {
      for (const buf of sessions.values()) if (buf.touchedMs < olderThanMs) drop(buf);
    },
    get size() {
      return sessions.size;
    },
  };
}
