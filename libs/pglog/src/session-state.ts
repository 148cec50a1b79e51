import type { SessionInfo } from '@vigie/contract';
import type { RoleCursor } from './parse-role.js';
import type { RoleTransaction } from './role-tracker.js';

/** What the collector remembers about one database session between its log records. */
export interface SessionState {
  /**
   * Role kept by the session after its last committed transaction (`SET ROLE` / `SET SESSION AUTHORIZATION`);
   * undefined means the login role. The role in effect now is `role-tracker.ts`'s `currentRole`.
   */
  effectiveRole?: string | undefined;
  /** The open transaction, while one of its statements changed the role or set a savepoint (role-tracker.ts). */
  roleTx?: RoleTransaction | undefined;
  /** A query string of several statements being audited one line at a time (parse-role.ts). */
  roleCursor?: RoleCursor | undefined;
  /** Last statement text pgaudit printed, for `<previously logged>` (pgaudit.log_statement_once). */
  lastStatement?: string | undefined;
  applicationName?: string | undefined;
  /** The session part of its last event (frozen, shared by its events while it does not change). */
  info?: SessionInfo | undefined;
  /** The application name as the client set it when `info` was made (`info` holds it cleaned). */
  infoRawApp?: string | undefined;
  /** Last time a record of this session was seen (ms, the caller's clock). */
  seenAt: number;
}

/** Options of {@link SessionTable}. */
export interface SessionTableOptions {
  /** Most sessions remembered; beyond, the least recently seen are forgotten (and counted). */
  maxSessions?: number;
  /** Called with the number of sessions forgotten because the table was full. */
  onEvict?: (count: number) => void;
}

/**
 * Bounded per-session memory. Ended sessions are dropped at their disconnection line; sessions whose end we never
 * saw (crash, a log file lost) are evicted least-recently-seen first when the table is full, so memory stays flat
 * whatever the log holds.
 */
export class SessionTable {
  private readonly sessions = new Map<string, SessionState>();
  private readonly max: number;

  constructor(private readonly options: SessionTableOptions = {}) {
    this.max = options.maxSessions ?? 20_000;
  }

  get size(): number {
    return this.sessions.size;
  }

  /** The session's state, created on first sight. */
  touch(sessionId: string, now: number): SessionState {
    let s = this.sessions.get(sessionId);
    if (s === undefined) {
      if (this.sessions.size >= this.max) this.evict();
      s = { seenAt: now };
      this.sessions.set(sessionId, s);
    } else {
      s.seenAt = now;
    }
    return s;
  }

  get(sessionId: string): SessionState | undefined {
    return this.sessions.get(sessionId);
  }

  /** Forgets an ended session. */
  end(sessionId: string): void {
    this.sessions.delete(sessionId);
  }

  /** Sessions that changed role, for the checkpoint (so a restart knows who is `SET ROLE`d). */
  snapshotRoles(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [id, s] of this.sessions) if (s.effectiveRole !== undefined) out[id] = s.effectiveRole;
    return out;
  }

  /** Restores roles saved by {@link snapshotRoles}. */
  restoreRoles(roles: Record<string, string>, now: number): void {
    for (const [id, role] of Object.entries(roles)) this.touch(id, now).effectiveRole = role;
  }

  private evict(): void {
    // Evict the least recently seen tenth in one pass: amortised O(1) per insertion.
    const entries = [...this.sessions].sort((a, b) => a[1].seenAt - b[1].seenAt);
    const count = Math.max(1, Math.floor(this.max / 10));
    for (const [id] of entries.slice(0, count)) this.sessions.delete(id);
    this.options.onEvict?.(count);
  }
}
