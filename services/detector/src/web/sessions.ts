import { randomBytes } from 'node:crypto';

/** A signed-in browser: who, and until when. */
export interface WebSession {
  /** Random 256-bit id, the value of the session cookie. */
  readonly id: string;
  /** The name acknowledgements are recorded under. */
  readonly user: string;
  readonly createdMs: number;
  lastSeenMs: number;
  /** Alert-list filters posted by this browser, by opaque id (so no role name goes into a URL). */
  readonly filters: Map<string, Record<string, string>>;
}

/** Options of {@link createSessionStore}. */
export interface SessionStoreOptions {
  /** A session unused for this long ends. */
  idleMs: number;
  /** A session ends this long after sign-in, used or not. */
  maxMs: number;
  /** Most sessions at once (the oldest is ended first). */
  maxSessions?: number;
  now?: () => number;
}

/** Server-side sessions of the evidence pages, in memory: a restart signs everyone out. */
export interface SessionStore {
  create(user: string): WebSession;
  /** The live session of this id (refreshes its idle timer), or undefined. */
  get(id: string | undefined): WebSession | undefined;
  destroy(id: string | undefined): void;
  readonly size: number;
}

/** Most filters one session keeps (the oldest goes first). */
const MAX_FILTERS = 50;

/** Creates the session map. */
export function createSessionStore({
  idleMs,
  maxMs,
  maxSessions = 10_000,
  now = Date.now,
}: SessionStoreOptions): SessionStore {
  const sessions = new Map<string, WebSession>();
  const expired = (s: WebSession, t: number) => t - s.lastSeenMs > idleMs || t - s.createdMs > maxMs;
  const sweep = (t: number) => {
    for (const [id, s] of sessions) if (expired(s, t)) sessions.delete(id);
  };
  return {
    create(user) {
      const t = now();
      if (sessions.size >= maxSessions) sweep(t);
      while (sessions.size >= maxSessions) {
        const oldest = sessions.keys().next();
        if (oldest.done) break;
        sessions.delete(oldest.value);
      }
      const session: WebSession = {
        id: randomBytes(32).toString('base64url'),
        user,
        createdMs: t,
        lastSeenMs: t,
        filters: new Map(),
      };
      sessions.set(session.id, session);
      return session;
    },
    get(id) {
      if (id === undefined) return undefined;
      const session = sessions.get(id);
      if (!session) return undefined;
      const t = now();
      if (expired(session, t)) {
        sessions.delete(id);
        return undefined;
      }
      session.lastSeenMs = t;
      return session;
    },
    destroy(id) {
      if (id !== undefined) sessions.delete(id);
    },
    get size() {
      return sessions.size;
    },
  };
}

/** Keeps a filter in the session under a new opaque id and returns the id. */
export function saveFilter(session: WebSession, filter: Record<string, string>): string {
  const id = randomBytes(12).toString('base64url');
  session.filters.set(id, filter);
  while (session.filters.size > MAX_FILTERS) {
    const oldest = session.filters.keys().next();
    if (oldest.done) break;
    session.filters.delete(oldest.value);
  }
  return id;
}
