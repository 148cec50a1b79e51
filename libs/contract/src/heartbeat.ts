import { z } from 'zod';
import { CONTRACT_VERSION, envelope, SessionId, Timestamp } from './common.js';
import { entityKey } from './topics.js';

/** The collectors that send heartbeats. */
export const CollectorName = z.enum(['collector-pglog', 'collector-replication', 'collector-egress']);
export type CollectorName = z.infer<typeof CollectorName>;

/**
 * One database session a Vigie component holds, as PostgreSQL itself describes it (read from `pg_stat_activity`
 * of the component's own backend, never from configuration): the detector treats a session whose id it was told
 * this way as Vigie's own. The session id (backend start + pid) is written into the log by the server, so a user
 * cannot make another session carry it.
 */
export const CollectorIdentity = z.object({
  /** Login role of the session (`session_user`). */
  role: z.string().min(1).max(63),
  /** `application_name` the component set (informative: clients choose it, so it never decides alone). */
  applicationName: z.string().max(63),
  /** Client address as the server sees it (`host(client_addr)`), `local` for a Unix socket. */
  clientAddr: z.string().min(1).max(45),
  /** A walsender (replication connection) rather than a client backend. */
  replication: z.boolean(),
  database: z.string().max(63).optional(),
  /** Backend pid (`pg_backend_pid()`). */
  pid: z.number().int().nonnegative(),
  /** PostgreSQL's session id, `hex(backend start).hex(pid)`: what the log prints and what is matched. */
  sessionId: SessionId,
  /**
   * `vigie`: the component runs as this role, which makes the role one of Vigie's accounts (its other sessions
   * are watched). `setup`: a one-off session under an administrator's role (creating a publication): this session
   * only is Vigie's, the role is not.
   */
  account: z.enum(['vigie', 'setup']).default('vigie'),
  /** Set once the component closed the session (it is still announced for a while: late log lines). */
  endedAt: Timestamp.optional(),
});
export type CollectorIdentity = z.infer<typeof CollectorIdentity>;

/**
 * Whether the collector's source is being read. A collector can be alive (heartbeats flowing) and blind (its log
 * file cannot be opened): `failing` says so, since when, and a stable error code (never free text).
 */
export const SourceHealth = z.object({
  state: z.enum(['ok', 'failing']),
  /** When the current state began. */
  since: Timestamp,
  /** `VIGIE_<AREA>_<WHAT>`, optionally followed by the system error code (`VIGIE_PGLOG_SOURCE_READ EACCES`). */
  error: z
    .string()
    .regex(/^VIGIE_[A-Z0-9_]+( [A-Z0-9_]+)?$/, 'an error code, optionally followed by a system error code')
    .optional(),
});
export type SourceHealth = z.infer<typeof SourceHealth>;

/** Every collector says it is alive, how far behind its source it is, whether it reads it, and who it connects as. */
export const CollectorHeartbeatEvent = z.object({
  ...envelope,
  kind: z.literal('collector.heartbeat'),
  collector: CollectorName,
  /** Host or instance name of the collector (not personal data). */
  instance: z.string(),
  /** Bytes of source not yet delivered to Kafka (log bytes, WAL bytes), when known. */
  lagBytes: z.number().int().nonnegative().optional(),
  /** Age of the oldest source record not yet delivered, in seconds. */
  lagSeconds: z.number().nonnegative().optional(),
  /** Health of the source loop; absent from collectors older than this field (taken as healthy). */
  health: SourceHealth.optional(),
  /** The database sessions the collector holds or held in the last minutes (bounded). */
  identities: z.array(CollectorIdentity).max(100).optional(),
  /**
   * Roles the collector connects as (from its configuration), announced from its first heartbeat, sent before it
   * opens any session: every session of these roles is then either one it announces or misuse. Announcing a role
   * only ever makes the detector stricter, so it may come from configuration.
   */
  accounts: z.array(z.string().min(1).max(63)).max(10).optional(),
});
export type CollectorHeartbeatEvent = z.infer<typeof CollectorHeartbeatEvent>;

/** What a collector puts in its heartbeat; {@link collectorHeartbeat} adds the envelope. */
export interface HeartbeatFields {
  cluster: string;
  collector: CollectorName;
  instance: string;
  at: Date;
  lagBytes?: number | undefined;
  lagSeconds?: number | undefined;
  health?: SourceHealth | undefined;
  identities?: readonly CollectorIdentity[] | undefined;
  accounts?: readonly string[] | undefined;
}

/**
 * Builds a heartbeat event, the same way for every collector (id `<cluster>:heartbeat:<collector>:<instance>:<ms>`).
 * A heartbeat is never about a database session: it carries no `session` and no `source` position, which is how the
 * detector tells it from anything derived from the server log.
 */
export function collectorHeartbeat(f: HeartbeatFields): CollectorHeartbeatEvent {
  return {
    v: CONTRACT_VERSION,
    id: `${f.cluster}:heartbeat:${f.collector}:${f.instance}:${f.at.getTime()}`,
    kind: 'collector.heartbeat',
    cluster: f.cluster,
    ts: f.at.toISOString(),
    collector: f.collector,
    instance: f.instance,
    ...(f.lagBytes !== undefined && { lagBytes: f.lagBytes }),
    ...(f.lagSeconds !== undefined && { lagSeconds: f.lagSeconds }),
    ...(f.health !== undefined && { health: f.health }),
    ...(f.identities !== undefined && { identities: [...f.identities] }),
    ...(f.accounts !== undefined && { accounts: [...f.accounts] }),
  };
}

/**
 * Kafka key of a collector's heartbeats, the same for every collector: `<cluster>/collector/<collector>/<instance>`
 * (one partition per collector instance, so its heartbeats stay in order).
 */
export function heartbeatKey(cluster: string, collector: CollectorName, instance: string): string {
  return entityKey(cluster, `collector/${collector}/${instance}`);
}
