import pg from 'pg';
import type { Alert, ResponseAction } from '@vigie/contract';
import { durationMs, type CompiledPolicy } from '@vigie/policy';
import { describeError, type Logger } from '@vigie/runtime';
import type { ResponseStore, RoleLock } from '../sinks/store/response-store.js';

/** What a person (or the policy) asks Vigie to do about an alert. */
export interface ResponseRequest {
  terminate: boolean;
  lock: boolean;
  /** Lock duration; default the policy's `response.lockFor`. */
  lockForMs?: number | undefined;
  /** Says what would be done, does nothing (the default of the CLI and the API). */
  dryRun: boolean;
  /** Who asks (a name, an on-call handle, `policy`). */
  by: string;
  mode: 'manual' | 'automatic';
}

/** What came of a request: refused (nothing done), a dry run, or done (each action with its own result). */
export interface ResponseOutcome {
  status: 'refused' | 'dry-run' | 'done';
  actions: ResponseAction[];
}

/** The role and session an alert points at, as the responder needs them. */
export interface ResponseTarget {
  role: string | undefined;
  cluster: string;
  /** `hex(backend start epoch).hex(pid)`, PostgreSQL's own `%c`. */
  sessionId: string | undefined;
}

/** Catalog facts of the target role (read by the responder's own connection). */
export interface RoleFacts {
  exists: boolean;
  superuser: boolean;
  canLogin: boolean;
}

/** The backend of a session id: its pid and start (epoch seconds), or undefined when it is not one. */
export function backendOf(sessionId: string): { pid: number; startEpoch: number } | undefined {
  const m = /^([0-9a-f]{1,16})\.([0-9a-f]{1,8})$/.exec(sessionId);
  if (m === null) return undefined;
  return { startEpoch: Number.parseInt(m[1] as string, 16), pid: Number.parseInt(m[2] as string, 16) };
}

/**
 * Why a request must be refused, one reason each (empty: allowed). Keyed on facts a watched user cannot forge: the
 * login role the server logged, the policy, the catalog.
 */
export function refusals(
  target: ResponseTarget,
  request: Pick<ResponseRequest, 'terminate' | 'lock' | 'lockForMs'>,
  ctx: { cluster: string; policy: CompiledPolicy; responderRole: string; facts: RoleFacts | undefined },
): string[] {
  const reasons: string[] = [];
  const { policy } = ctx;
  const r = policy.policy.response;
  if (!request.terminate && !request.lock) reasons.push('nothing asked: give terminate and/or lock');
  if (target.cluster !== ctx.cluster) {
    reasons.push(`the alert is about cluster ${target.cluster}; this detector responds on cluster ${ctx.cluster} only`);
  }
  const role = target.role;
  if (role === undefined) {
    reasons.push('the alert names no login role');
    return reasons;
  }
  if (request.terminate && (target.sessionId === undefined || backendOf(target.sessionId) === undefined)) {
    reasons.push('the alert is about no single session: nothing to terminate');
  }
  if (request.lock && request.lockForMs !== undefined && request.lockForMs > durationMs(r.maxLockFor)) {
    reasons.push(`a lock of ${request.lockForMs / 1000} s exceeds response.maxLockFor (${r.maxLockFor})`);
  }
  if (policy.isVigieAccount(role) || role === ctx.responderRole) {
    reasons.push(`${role} is one of Vigie's own accounts (roles.vigie): never acted on`);
  } else if (policy.isResponseExempt(role)) {
    reasons.push(`${role} is listed in response.never: never acted on`);
  }
  if (ctx.facts !== undefined && !ctx.facts.exists) reasons.push(`role ${role} does not exist any more`);
  if (ctx.facts?.superuser === true && !r.allowSuperuser) {
    reasons.push(`${role} is a superuser (response.allowSuperuser is false)`);
  }
  return reasons;
}

/** Options of {@link createResponder}. */
export interface ResponderOptions {
  /** The monitored cluster, as the responder role (`vigie_responder`: pg_signal_backend, CREATEROLE). */
  connectionString: string;
  /** Name of that cluster in the policy. */
  cluster: string;
  policy: CompiledPolicy;
  store: ResponseStore;
  /** Records actions on the alert as a new revision (store, Kafka, Alertmanager). */
  annotate: (alertId: string, actions: readonly ResponseAction[]) => Promise<void>;
  logger: Logger;
  /** Sees the pool once created (the detector announces its sessions as Vigie's own). */
  observePool?: (pool: pg.Pool) => void;
  /** Wait before retrying a lock whose LOGIN could not be restored. */
  retryMs?: number;
  now?: () => number;
}

/** Terminates sessions and locks logins for a while; restores LOGIN when a lock expires, across restarts. */
export interface Responder {
  respond(alert: Alert, request: ResponseRequest): Promise<ResponseOutcome>;
  /** Restores overdue locks now and schedules the others (at detector start). */
  start(): Promise<void>;
  stop(): Promise<void>;
}

// setTimeout's longest delay; a longer lock is re-armed when the timer fires.
const MAX_TIMER_MS = 2 ** 31 - 1;

/** Creates the {@link Responder}. */
export function createResponder(o: ResponderOptions): Responder {
  const { cluster, policy, store, logger } = o;
  const now = o.now ?? Date.now;
  const retryMs = o.retryMs ?? 30_000;
  const pool = new pg.Pool({ connectionString: o.connectionString, max: 1 });
  pool.on('error', () => undefined);
  o.observePool?.(pool);
  const timers = new Map<string, NodeJS.Timeout>();
  let stopped = false;
  let responderRole: string | undefined;

  const iso = (ms: number) => new Date(ms).toISOString();
  const key = (l: Pick<RoleLock, 'cluster' | 'role'>) => `${l.cluster}\u0000${l.role}`;

  async function whoAmI(): Promise<string> {
    responderRole ??= (await pool.query<{ u: string }>('SELECT current_user AS u')).rows[0]?.u ?? '';
    return responderRole;
  }

  async function factsOf(role: string): Promise<RoleFacts> {
    const { rows } = await pool.query<{ rolsuper: boolean; rolcanlogin: boolean }>(
      'SELECT rolsuper, rolcanlogin FROM pg_roles WHERE rolname = $1',
      [role],
    );
    const row = rows[0];
    return { exists: row !== undefined, superuser: row?.rolsuper ?? false, canLogin: row?.rolcanlogin ?? false };
  }

  /** The backend of the session if it still runs as that role (a reused pid is another session: not it). */
  async function liveBackend(sessionId: string, role: string): Promise<number | undefined> {
    const b = backendOf(sessionId);
    if (b === undefined) return undefined;
    const { rows } = await pool.query<{ pid: number }>(
      `SELECT pid FROM pg_stat_activity
       WHERE pid = $1 AND floor(extract(epoch FROM backend_start))::bigint = $2 AND usename = $3`,
      [b.pid, b.startEpoch, role],
    );
    return rows[0]?.pid;
  }

  function schedule(lock: RoleLock): void {
    if (stopped) return;
    clearTimeout(timers.get(key(lock)));
    const delay = Math.min(Math.max(0, Date.parse(lock.until) - now()), MAX_TIMER_MS);
    const t = setTimeout(() => void expire(lock), delay);
    t.unref();
    timers.set(key(lock), t);
  }

  /** A lock's time is up (or the timer re-arms): restore LOGIN unless the lock was extended meanwhile. */
  async function expire(lock: RoleLock): Promise<void> {
    timers.delete(key(lock));
    try {
      const current = (await store.activeLocks()).find((l) => key(l) === key(lock));
      if (current === undefined) return;
      if (Date.parse(current.until) > now()) {
        schedule(current);
        return;
      }
      const facts = await factsOf(current.role);
      let action: ResponseAction;
      if (facts.exists) {
        await pool.query(`ALTER ROLE ${pg.escapeIdentifier(current.role)} LOGIN`);
        action = unlockAction(current.role, 'done', 'LOGIN restored: the lock expired');
      } else {
        action = unlockAction(current.role, 'not-needed', 'the role was dropped while locked');
      }
      await store.releaseLock(current);
      logger.info({ alertId: current.alertId, role: current.role }, 'response: lock expired, LOGIN restored');
      await record(current.alertId, [action], false);
    } catch (error) {
      logger.warn(
        { role: lock.role, error: describeError(error), retryInMs: retryMs },
        'response: LOGIN not restored yet; retrying',
      );
      if (!stopped) {
        const t = setTimeout(() => void expire(lock), retryMs);
        t.unref();
        timers.set(key(lock), t);
      }
    }
  }

  function unlockAction(role: string, result: ResponseAction['result'], detail: string): ResponseAction {
    return { action: 'unlock', mode: 'expiry', by: 'vigie', at: iso(now()), role, result, detail };
  }

  /** The trail, then the alert (a revision): a failure of either is logged, never hides what was done. */
  async function record(alertId: string, actions: ResponseAction[], dryRun: boolean): Promise<void> {
    await store
      .recordResponses(alertId, cluster, actions, dryRun)
      .catch((error: unknown) =>
        logger.error({ alertId, error: describeError(error) }, 'response: trail not written to the store'),
      );
    if (dryRun) return;
    await o
      .annotate(alertId, actions)
      .catch((error: unknown) =>
        logger.error({ alertId, error: describeError(error) }, 'response: alert revision not published'),
      );
  }

  async function lock(alert: Alert, role: string, facts: RoleFacts, forMs: number, base: ResponseAction) {
    const until = iso(now() + forMs);
    const active = (await store.activeLocks()).find((l) => l.cluster === cluster && l.role === role);
    if (!facts.canLogin && active === undefined) {
      return {
        ...base,
        result: 'not-needed',
        detail: `${role} cannot log in already (not a lock of Vigie's): left as it is`,
      } as const;
    }
    // The lock is stored before the role is altered: a crash in between still restores LOGIN at expiry.
    const saved = await store.saveLock({ cluster, role, alertId: alert.id, until });
    try {
      await pool.query(`ALTER ROLE ${pg.escapeIdentifier(role)} NOLOGIN`);
    } catch (error) {
      schedule(saved);
      return {
        ...base,
        result: 'failed',
        detail: `ALTER ROLE ${role} NOLOGIN failed: ${describeError(error)}`,
      } as const;
    }
    schedule(saved);
    return {
      ...base,
      result: 'done',
      until: saved.until,
      detail: `${role} cannot log in until ${saved.until} (NOLOGIN; Vigie restores LOGIN then)`,
    } as const;
  }

  async function terminate(sessionId: string, role: string, base: ResponseAction): Promise<ResponseAction> {
    const pid = await liveBackend(sessionId, role);
    if (pid === undefined)
      return { ...base, result: 'not-needed', detail: `session ${sessionId} has no backend any more` };
    const { rows } = await pool.query<{ ok: boolean }>('SELECT pg_terminate_backend($1) AS ok', [pid]);
    return rows[0]?.ok === true
      ? { ...base, pid, result: 'done', detail: `backend ${pid} of session ${sessionId} terminated` }
      : { ...base, pid, result: 'failed', detail: `pg_terminate_backend(${pid}) returned false` };
  }

  return {
    async respond(alert, request) {
      const at = iso(now());
      const role = alert.who.login;
      const lockForMs = request.lockForMs ?? durationMs(policy.policy.response.lockFor);
      const wanted: ResponseAction['action'][] = [
        ...(request.lock ? (['lock'] as const) : []),
        ...(request.terminate ? (['terminate'] as const) : []),
      ];
      const base = (action: ResponseAction['action']): ResponseAction => ({
        action,
        mode: request.mode,
        by: request.by,
        at,
        role: role ?? '',
        result: 'planned',
        detail: '',
      });
      let facts: RoleFacts | undefined;
      let me = '';
      if (role !== undefined) [facts, me] = await Promise.all([factsOf(role), whoAmI()]);
      const target = { role, cluster: alert.cluster, sessionId: alert.sessionId };
      const reasons = refusals(target, { ...request, lockForMs }, { cluster, policy, responderRole: me, facts });
      if (reasons.length > 0) {
        const actions = wanted.map((a) => ({ ...base(a), result: 'refused' as const, detail: reasons.join('; ') }));
        logger.warn({ alertId: alert.id, by: request.by, reasons }, 'response refused');
        await record(alert.id, actions, request.dryRun);
        return { status: 'refused', actions };
      }
      const who = role as string;
      const sessionId = alert.sessionId as string;
      const canLogin = (facts as RoleFacts).canLogin;
      if (request.dryRun) {
        const actions: ResponseAction[] = [];
        if (request.lock) {
          actions.push({
            ...base('lock'),
            until: iso(now() + lockForMs),
            detail: canLogin
              ? `would run ALTER ROLE ${who} NOLOGIN until ${iso(now() + lockForMs)}, then restore LOGIN`
              : `${who} cannot log in already: nothing to lock`,
          });
        }
        if (request.terminate) {
          const pid = await liveBackend(sessionId, who);
          actions.push({
            ...base('terminate'),
            ...(pid !== undefined && { pid }),
            detail:
              pid !== undefined
                ? `would terminate backend ${pid} of session ${sessionId}`
                : `session ${sessionId} has no backend any more: nothing to terminate`,
          });
        }
        await record(alert.id, actions, true);
        return { status: 'dry-run', actions };
      }
      // Lock first: a terminated client that reconnects at once finds its login refused.
      const actions: ResponseAction[] = [];
      if (request.lock) actions.push(await lock(alert, who, facts as RoleFacts, lockForMs, base('lock')));
      if (request.terminate) {
        actions.push(
          await terminate(sessionId, who, base('terminate')).catch((error: unknown): ResponseAction => ({
            ...base('terminate'),
            result: 'failed',
            detail: `pg_terminate_backend failed: ${describeError(error)}`,
          })),
        );
      }
      logger.info(
        {
          alertId: alert.id,
          by: request.by,
          mode: request.mode,
          results: actions.map((a) => `${a.action}:${a.result}`),
        },
        'response carried out',
      );
      await record(alert.id, actions, false);
      return { status: 'done', actions };
    },

    async start() {
      for (const l of await store.activeLocks()) {
        if (l.cluster === cluster) schedule(l);
      }
    },

    async stop() {
      stopped = true;
      for (const t of timers.values()) clearTimeout(t);
      timers.clear();
      await pool.end();
    },
  };
}
