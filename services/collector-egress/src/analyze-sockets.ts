import { CONTRACT_VERSION, entityKey, sessionKey, type EgressSampleEvent, type SessionInfo } from '@vigie/contract';
import { normalizeAddress } from '@vigie/policy';
import { deliveredBytes, peerKey, type SsSocket } from './parse-ss.js';

/** Why a socket could not be tied to its session; a small fixed set, used as a metric label. */
export type JoinFailure =
  /** No pg_stat_activity row (yet) has this socket's client address and port. */
  | 'no_session'
  /** A socket closed that no sample and no pg_stat_activity poll had seen. */
  | 'closed_unseen';

/** An event ready for Kafka, with its key. */
export interface KeyedEvent {
  key: string;
  event: EgressSampleEvent;
}

/** What one observation produced. */
export interface Observation {
  events: KeyedEvent[];
  joinFailures: JoinFailure[];
  /** Sockets that vanished from the samples without a close event (their final sample comes from the last look). */
  closesMissed: number;
}

/** How the tracker finds sessions; both lookups are cache reads (no I/O on this path). */
export interface SessionLookup {
  /** The latest session seen with this client end (normalised address and port), even if it has ended. */
  byPeer(addr: string, port: number): SessionInfo | undefined;
}

/** Options of {@link createSocketTracker}. */
export interface SocketTrackerOptions {
  cluster: string;
  serverPort: number;
  sessions: SessionLookup;
  /** Samples a tracked socket may be absent from before it is taken as closed (its close event was lost). */
  missedSamplesBeforeClose?: number;
}

interface Tracked {
  peer: { addr: string; port: number };
  session: SessionInfo | undefined;
  /** `bytesSent` carried by the last event emitted for this socket. */
  emittedBytes: number;
  /** What the client received ({@link deliveredBytes}): the contract's `bytesSent`. */
  bytesSent: number;
  bytesAcked: number;
  bytesReceived: number;
  missed: number;
  failureCounted: boolean;
}

/** Turns socket samples and close events into `egress.sample` events: the pure core of the collector. */
export interface SocketTracker {
  /**
   * One `ss` sample of the established server sockets, taken at `at` (started at `startedAtMs`). A socket whose
   * close event arrived after the sample started is ignored: the sample is older than its final counters.
   */
  observeSample(sockets: readonly SsSocket[], at: Date, startedAtMs?: number): Observation;
  /** One socket-close event (final counters); sockets of other ports are ignored (returns no events). */
  observeClose(socket: SsSocket, at: Date): Observation;
  /** Sockets currently tracked. */
  readonly size: number;
}

/** Creates a tracker; state is per socket (client address and port) and dropped at close. */
export function createSocketTracker({
  cluster,
  serverPort,
  sessions,
  missedSamplesBeforeClose = 3,
}: SocketTrackerOptions): SocketTracker {
  const tracked = new Map<string, Tracked>();
  // key → epoch ms of its last close event, to drop samples that were taken before a close but read after it.
  const closedAt = new Map<string, number>();

  const event = (t: Tracked, at: Date, final: boolean): KeyedEvent => {
    const delta = Math.max(0, t.bytesSent - t.emittedBytes);
    const base = {
      v: CONTRACT_VERSION,
      kind: 'egress.sample' as const,
      cluster,
      ts: at.toISOString(),
      source: { file: 'ss' },
      transport: 'tcp' as const,
      bytesSent: t.bytesSent,
      bytesSentDelta: delta,
      bytesAcked: t.bytesAcked,
      bytesReceived: t.bytesReceived,
      final,
      peer: t.peer,
    };
    t.emittedBytes = t.bytesSent;
    const suffix = final ? ':final' : '';
    if (t.session) {
      return {
        key: sessionKey(cluster, t.session.id),
        event: { ...base, id: `${cluster}:${t.session.id}:egress:${t.bytesSent}${suffix}`, session: t.session },
      };
    }
    const addr = normalizeAddress(t.peer.addr);
    return {
      key: entityKey(cluster, `egress/${addr}`),
      event: { ...base, id: `${cluster}:egress:${addr}:${t.peer.port}:${at.getTime()}:${t.bytesSent}${suffix}` },
    };
  };

  // A live TCP session is identified by its client end (address, port): pg_stat_activity has both, so the join needs
  // no owning pid (and no `ss -p`, which walks every process's /proc/<pid>/fd: 10 ms vs 2 ms a sample, measured).
  const join = (t: Tracked): void => {
    t.session ??= sessions.byPeer(t.peer.addr, t.peer.port);
  };

  const finish = (t: Tracked, at: Date, out: Observation): void => {
    join(t);
    if (!t.session) out.joinFailures.push('closed_unseen');
    out.events.push(event(t, at, true));
  };

  const fresh = (s: SsSocket, port: number): Tracked => ({
    peer: { addr: s.peer.addr, port },
    session: undefined,
    emittedBytes: 0,
    bytesSent: 0,
    bytesAcked: 0,
    bytesReceived: 0,
    missed: 0,
    failureCounted: false,
  });

  return {
    observeSample(sockets, at, startedAtMs = at.getTime()) {
      const out: Observation = { events: [], joinFailures: [], closesMissed: 0 };
      const seen = new Set<string>();
      for (const s of sockets) {
        const port = s.peer.port;
        if (s.local.port !== serverPort || port === undefined) continue;
        const key = peerKey(s.peer.addr, port);
        if ((closedAt.get(key) ?? -Infinity) >= startedAtMs) continue;
        let t = tracked.get(key);
        // Same client end, another connection: its counters restarted, or pg_stat_activity has another session there.
        const now = t?.session ? sessions.byPeer(s.peer.addr, port) : undefined;
        const reused =
          t !== undefined && (deliveredBytes(s) < t.bytesSent || (now !== undefined && now.id !== t.session?.id));
        if (t && reused) {
          // Same client end, another connection: the old one closed and its close event never reached us.
          out.closesMissed += 1;
          finish(t, at, out);
          t = undefined;
        }
        if (!t) {
          t = fresh(s, port);
          tracked.set(key, t);
        }
        seen.add(key);
        t.bytesSent = deliveredBytes(s);
        t.bytesAcked = s.bytesAcked;
        t.bytesReceived = s.bytesReceived;
        t.missed = 0;
        join(t);
        if (!t.session) {
          if (!t.failureCounted) out.joinFailures.push('no_session');
          t.failureCounted = true;
          // Keep the counters; the bytes are emitted once the session is known (or at close, unjoined).
          continue;
        }
        if (t.bytesSent > t.emittedBytes) out.events.push(event(t, at, false));
      }
      for (const [key, t] of tracked) {
        if (seen.has(key)) continue;
        t.missed += 1;
        if (t.missed >= missedSamplesBeforeClose) {
          tracked.delete(key);
          out.closesMissed += 1;
          finish(t, at, out);
        }
      }
      // Close marks only matter for samples in flight; an hour is far beyond any sample's duration.
      const horizon = at.getTime() - 3_600_000;
      for (const [key, when] of closedAt) if (when < horizon) closedAt.delete(key);
      return out;
    },

    observeClose(s, at) {
      const out: Observation = { events: [], joinFailures: [], closesMissed: 0 };
      const port = s.peer.port;
      if (s.local.port !== serverPort || port === undefined) return out;
      const key = peerKey(s.peer.addr, port);
      const existing = tracked.get(key);
      // A counter below the tracked one belongs to an earlier connection of that end.
      if (existing && deliveredBytes(s) < existing.bytesSent) return out;
      closedAt.set(key, at.getTime());
      tracked.delete(key);
      const t = existing ?? fresh(s, port);
      t.bytesSent = deliveredBytes(s);
      t.bytesAcked = s.bytesAcked;
      t.bytesReceived = s.bytesReceived;
      finish(t, at, out);
      return out;
    },

    get size() {
      return tracked.size;
    },
  };
}
