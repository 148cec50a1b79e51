import type { Alert, DeadLetter, VigieEvent } from '@vigie/contract';
import type { CompiledPolicy } from '@vigie/policy';
import { backoffMs, describeError, rateLimited, type Logger } from '@vigie/runtime';
import type { DetectorEngine } from './engine/types.js';
import type { DetectorMetrics, EventSource } from './metrics.js';
import {
  latestPerId,
  type AlertStore,
  type RoleSeen,
  type TimelineEntry,
  type VigieAccountSeen,
} from './sinks/store/alert-store.js';
import type { TimelineRecorder } from './sinks/store/timeline.js';
import { decodeMessage, type InputMessage } from './source/decode.js';

export type { InputMessage } from './source/decode.js';

/** The durable effects of a batch; the batch's offsets are committed only after they resolve. */
export interface BatchSinks {
  /** Alerts and dead letters to Kafka (resolves when acknowledged). */
  publish(alerts: readonly Alert[], deadLetters: readonly DeadLetter[]): Promise<void>;
  store: Pick<AlertStore, 'upsertAlerts' | 'savePending' | 'appendTimeline' | 'touchRoles'> &
    Partial<Pick<AlertStore, 'touchVigieAccounts'>>;
  /**
   * Alertmanager: queued, never awaited (the store restores firing alerts at restart, so nothing is lost). `fresh`:
   * states that consumed events produced, whose delay from their event is the event-to-alert latency; false for
   * those the clock produced (resolved after a silence, a periodic refresh, held changes released by a tick, flush).
   */
  notify?: (alerts: readonly Alert[], options: { fresh: boolean }) => void;
}

/** A partition this member was given: its own engine, and its firing alerts from the store to continue. */
export interface OpenedPartition {
  engine: DetectorEngine;
  restored: readonly Alert[];
  /** The engine was rebuilt from the partition's input events since then (see `DetectorEngine.restore`). */
  replayedSinceMs?: number | undefined;
}

/** Messages of a batch between two early notifications of Alertmanager (see `handleBatch`). */
const EARLY_EVERY = 256;

/** An open partition: its engine, and its counters as last reported to the metrics. */
interface Task {
  partition: number;
  engine: DetectorEngine;
  /**
   * Per topic, the offset after the last message this engine took in. A rebalance that leaves the partition here
   * can deliver again what was processed and not yet committed: those messages are not fed twice.
   */
  next: Map<string, number>;
  evictedSeen: number;
  revisionsSeen: Map<string, number>;
  heldSeen: Map<string, number>;
}

/** Options of {@link createBatchHandler}. */
export interface BatchHandlerOptions {
  /**
   * Opens a partition this member was given (see `assign`): a new engine, and the partition's firing alerts to
   * restore into it. Every partition number has its own engine: the state of a cluster lives in the engine of the
   * partition its events are sent to, whichever member owns it, so N members decide what one would.
   */
  openPartition(partition: number): Promise<OpenedPartition>;
  /** A partition was taken away (another member owns it now): its alerts are no longer this member's to send. */
  onReleased?: (partition: number, alertIds: readonly string[]) => void;
  policy: CompiledPolicy;
  metrics: DetectorMetrics;
  sinks: BatchSinks;
  timeline: TimelineRecorder;
  logger: Logger;
  cluster: string;
  /** Topic name → the `source` label. */
  sources: ReadonlyMap<string, EventSource>;
  /** True once the service is stopping: store retries give up so the batch is not committed. */
  isStopping?: () => boolean;
}

/** Alert states the batch handler produced, for listeners (`vigie start` prints them). */
export type AlertListener = (alert: Alert) => void;

/**
 * Turns consumed batches and clock ticks into the detector's effects. Everything goes through one queue: the
 * engine is synchronous and not re-entrant, and a tick's resolutions must not interleave with a batch's updates
 * to the same alert between the engine and the sinks.
 */
export interface BatchHandler {
  handleBatch(topic: string, partition: number, messages: readonly InputMessage[]): Promise<void>;
  /**
   * The partitions the consumer group gave this member: opens those it did not have (restored from the store) and
   * drops the others without resolving anything (their new owner continues their incidents).
   */
  assign(partitions: readonly number[]): Promise<void>;
  /** The partitions this member has open, in order. */
  owned(): number[];
  /** Runs `fn` on the engine of every open partition (announcements that every engine must know). */
  forEachEngine(fn: (engine: DetectorEngine) => void): void;
  /** Sessions tracked by the engines of every open partition. */
  readonly sessionsTracked: number;
  tick(nowMs: number): Promise<void>;
  /** Publishes every change the engine held back (the final state before a stop). */
  flush(): Promise<void>;
  /**
   * Records a change made outside the rules (an active response) as the alert's next revision, through every sink:
   * on the engine's incident when it holds it, else on the stored alert (`stored`). Undefined when neither has it.
   */
  annotate(
    id: string,
    mutate: (alert: Alert) => void,
    stored: () => Promise<Alert | undefined>,
  ): Promise<Alert | undefined>;
  onAlert(listener: AlertListener): () => void;
  /** Firing alerts by rule and severity (the `vigie_alerts_active` gauge). */
  activeByRule(): { rule: string; severity: string; count: number }[];
}

/** Creates the {@link BatchHandler}. */
export function createBatchHandler(o: BatchHandlerOptions): BatchHandler {
  const { policy, metrics, sinks, timeline, logger, cluster, sources } = o;
  const isStopping = o.isStopping ?? (() => false);
  const listeners = new Set<AlertListener>();
  /** Firing alerts of the open partitions, by id. */
  const active = new Map<string, { rule: string; severity: string; partition: number }>();
  /** The open partitions: each its engine and what its counters were last synced at. */
  const tasks = new Map<number, Task>();
  let queue: Promise<unknown> = Promise.resolve();

  const serial = <T>(fn: () => Promise<T>): Promise<T> => {
    const next = queue.then(fn);
    queue = next.catch(() => undefined);
    return next;
  };

  const logRejected = rateLimited(10_000, (suppressed, topic: string, partition: number, offset: string) =>
    logger.warn({ topic, partition, offset, suppressed }, 'undecodable message sent to the dead-letter topic'),
  );

  const logEngineError = rateLimited(10_000, (suppressed, kind: string, error: unknown) =>
    logger.error({ kind, suppressed, error: describeError(error) }, 'rule engine failed on an event; skipped'),
  );

  /** Retries a durable write until it lands: the batch must not commit before its effects. */
  const durably = async (what: string, fn: () => Promise<void>) => {
    for (let attempt = 0; ; attempt += 1) {
      try {
        await fn();
        return;
      } catch (error) {
        metrics.storeFailures.inc();
        if (isStopping()) throw error;
        if (attempt === 0 || attempt % 10 === 0) {
          logger.warn({ attempt, what, error: describeError(error) }, 'store write failed; retrying');
        }
        await new Promise((r) => setTimeout(r, backoffMs(attempt, { baseMs: 200, maxMs: 10_000 })));
      }
    }
  };

  const track = (alerts: readonly Alert[], partition: number) => {
    for (const a of alerts) {
      if (a.status === 'firing') {
        // A new incident for this process: not already firing, not restored from the store.
        if (!active.has(a.id)) metrics.alertsTotal.labels(a.rule, a.severity).inc();
        active.set(a.id, { rule: a.rule, severity: a.severity, partition });
      } else {
        active.delete(a.id);
      }
    }
  };

  const syncEvictions = (task: Task) => {
    const now = task.engine.stats.sessionsEvicted;
    if (now > task.evictedSeen) metrics.sessionsEvicted.inc(now - task.evictedSeen);
    task.evictedSeen = now;
  };

  // The engine counts revisions by rule and reason and held-back updates by rule; the metrics get the difference.
  const syncRevisions = (task: Task) => {
    const counts = task.engine.revisionCounts?.();
    if (counts === undefined) return;
    for (const [key, n] of counts.revisions) {
      const before = task.revisionsSeen.get(key) ?? 0;
      if (n === before) continue;
      const [rule = '', reason = ''] = key.split('\u0000');
      metrics.alertRevisions.labels(rule, reason).inc(n - before);
      task.revisionsSeen.set(key, n);
    }
    for (const [rule, n] of counts.held) {
      const before = task.heldSeen.get(rule) ?? 0;
      if (n === before) continue;
      metrics.alertUpdatesHeld.labels(rule).inc(n - before);
      task.heldSeen.set(rule, n);
    }
  };

  /** Opens a partition: its engine, restored with its firing alerts (their sessions marked for the timeline). */
  const open = async (partition: number): Promise<Task> => {
    const { engine, restored, replayedSinceMs } = await o.openPartition(partition);
    const task: Task = {
      partition,
      engine,
      evictedSeen: engine.stats.sessionsEvicted,
      next: new Map(),
      revisionsSeen: new Map(),
      heldSeen: new Map(),
    };
    engine.restore(restored, Date.now(), replayedSinceMs);
    // What the engine holds firing now (rebuilt or restored) is this partition's to continue.
    for (const a of engine.alerts?.() ?? restored) {
      if (a.status !== 'firing') continue;
      active.set(a.id, { rule: a.rule, severity: a.severity, partition });
      if (a.sessionId !== undefined) timeline.markAlerting(a.cluster, a.sessionId);
    }
    tasks.set(partition, task);
    return task;
  };

  const taskOf = async (partition: number): Promise<Task> => tasks.get(partition) ?? (await open(partition));

  /** A batch's effects; `task` is the partition that produced them (none: an annotation of an alert not open here). */
  const effects = async (
    task: Task | undefined,
    alerts: Alert[],
    deadLetters: DeadLetter[],
    entries: TimelineEntry[],
    roles: RoleSeen[],
    accounts: VigieAccountSeen[] = [],
    pending: Alert[] = [],
    fresh = false,
    /** States Alertmanager was already given during the batch (id → revision). */
    notified?: ReadonlyMap<string, number>,
  ) => {
    if (task !== undefined) syncRevisions(task);
    const touchAccounts = sinks.store.touchVigieAccounts?.bind(sinks.store);
    await Promise.all([
      sinks.publish(alerts, deadLetters),
      // Revisions first, then the changes held back since: a pending state never lands under an older revision.
      durably('alerts', async () => {
        await sinks.store.upsertAlerts(alerts);
        await sinks.store.savePending(pending);
      }),
      durably('timeline', () => sinks.store.appendTimeline(entries)),
      durably('roles', () => sinks.store.touchRoles(roles)),
      accounts.length > 0 && touchAccounts ? durably('vigie accounts', () => touchAccounts(accounts)) : undefined,
    ]);
    if (task !== undefined) track(alerts, task.partition);
    if (alerts.length > 0) {
      const toNotify = notified === undefined ? alerts : alerts.filter((a) => notified.get(a.id) !== a.revision);
      if (toNotify.length > 0) sinks.notify?.(toNotify, { fresh });
      for (const a of alerts) for (const l of listeners) l(a);
    }
  };

  const observe = (event: VigieEvent, roles: Map<string, RoleSeen>, accounts: Map<string, VigieAccountSeen>) => {
    if (event.kind === 'collector.heartbeat' && event.session === undefined && event.source === undefined) {
      // Vigie's accounts, kept so that a restarted detector knows them before the first heartbeat.
      const announced = [
        ...(event.accounts ?? []),
        ...(event.identities ?? []).filter((i) => i.account === 'vigie').map((i) => i.role),
      ];
      for (const role of announced)
        accounts.set(`${event.cluster}/${role}`, { cluster: event.cluster, role, ts: event.ts });
    }
    if (event.kind === 'egress.sample') {
      // A close the egress collector could not join has no session, only the client end (peer).
      metrics.egressBytes
        .labels(policy.clientClass(event.session?.clientAddr ?? event.peer?.addr))
        .inc(event.bytesSentDelta);
    } else if (event.kind === 'collector.heartbeat') {
      metrics.heartbeat.labels(event.collector, event.cluster).set(Date.parse(event.ts) / 1000);
    }
    const user = event.session?.user;
    if (user !== undefined && (event.kind === 'session.start' || event.kind === 'statement')) {
      const seen: RoleSeen = { cluster: event.cluster, role: user, ts: event.ts };
      if (event.session?.clientAddr !== undefined) seen.clientAddr = event.session.clientAddr;
      const key = `${event.cluster}/${user}`;
      const prev = roles.get(key);
      if (!prev || seen.ts >= prev.ts) roles.set(key, seen);
    }
  };

  return {
    handleBatch(topic, partition, messages) {
      return serial(async () => {
        const task = await taskOf(partition);
        const { engine } = task;
        const end = metrics.batchSeconds.startTimer();
        const source = sources.get(topic) ?? 'activity';
        const alerts: Alert[] = [];
        const deadLetters: DeadLetter[] = [];
        const entries: TimelineEntry[] = [];
        const roles = new Map<string, RoleSeen>();
        const accounts = new Map<string, VigieAccountSeen>();
        let consumed = 0;
        const from = task.next.get(topic) ?? -1;
        // New states go to Alertmanager as the batch goes (every EARLY_EVERY messages), not after the last message
        // and the batch's durable writes: on-call hears of an event within a fraction of a batch. Alertmanager is
        // idempotent per alert, and a batch replayed after a crash sends the same states again.
        const early = new Map<string, number>();
        let unsent: Alert[] = [];
        let sinceYield = 0;
        for (const m of messages) {
          if (Number(m.offset) < from) continue;
          if (++sinceYield >= EARLY_EVERY) {
            sinceYield = 0;
            if (unsent.length > 0 && sinks.notify !== undefined) {
              const states = latestPerId(unsent);
              sinks.notify(states, { fresh: true });
              for (const a of states) early.set(a.id, a.revision);
              unsent = [];
            }
            // Lets the Alertmanager push (and heartbeats) run between chunks of a large batch.
            await new Promise((resolve) => setImmediate(resolve));
          }
          const decoded = decodeMessage(topic, partition, m, cluster);
          if (!decoded.ok) {
            deadLetters.push(decoded.deadLetter);
            metrics.rejected.labels(decoded.deadLetter.reason).inc();
            logRejected(topic, partition, m.offset);
            continue;
          }
          const { event } = decoded;
          consumed += 1;
          observe(event, roles, accounts);
          const entry = timeline.observe(event);
          if (entry) entries.push(entry);
          let raised: Alert[];
          try {
            // Its arrival on the detector's clock, the one `tick` is given.
            raised = engine.process(event, Date.now());
          } catch (error) {
            // A rule bug on one event must not stall the partition forever (the batch would be retried endlessly).
            metrics.engineErrors.inc();
            logEngineError(event.kind, error);
            continue;
          }
          for (const alert of raised) {
            alerts.push(alert);
            unsent.push(alert);
            if (alert.sessionId !== undefined) entries.push(...timeline.markAlerting(alert.cluster, alert.sessionId));
          }
        }
        // The engine holds back changes on-call need not hear about at once (a count that grew a little): they are
        // not revisions, but the batch is the unit of commit, so the store keeps them as pending before the
        // offsets move (a restarted detector continues from them; nothing is lost if this process dies).
        const last = messages[messages.length - 1];
        if (last !== undefined) task.next.set(topic, Math.max(from, Number(last.offset) + 1));
        metrics.eventsConsumed.labels(source).inc(consumed);
        syncEvictions(task);
        await effects(
          task,
          latestPerId(alerts),
          deadLetters,
          entries,
          [...roles.values()],
          [...accounts.values()],
          engine.pending?.() ?? [],
          true,
          early,
        );
        end();
      });
    },
    assign(partitions) {
      return serial(async () => {
        const wanted = new Set(partitions);
        for (const [partition, task] of tasks) {
          if (wanted.has(partition)) continue;
          // Its counters up to now are this member's; its incidents are the new owner's to continue (not resolved).
          syncRevisions(task);
          syncEvictions(task);
          tasks.delete(partition);
          const released: string[] = [];
          for (const [id, a] of active) if (a.partition === partition) released.push(id);
          for (const id of released) active.delete(id);
          o.onReleased?.(partition, released);
        }
        for (const partition of [...wanted].sort((a, b) => a - b)) await taskOf(partition);
      });
    },
    owned: () => [...tasks.keys()].sort((a, b) => a - b),
    forEachEngine(fn) {
      for (const task of tasks.values()) fn(task.engine);
    },
    get sessionsTracked() {
      let n = 0;
      for (const task of tasks.values()) n += task.engine.stats.sessionsTracked;
      return n;
    },
    tick(nowMs) {
      return serial(async () => {
        for (const task of tasks.values()) {
          const alerts = latestPerId(task.engine.tick(nowMs));
          syncEvictions(task);
          if (alerts.length > 0) await effects(task, alerts, [], [], []);
          else syncRevisions(task);
        }
      });
    },
    flush() {
      return serial(async () => {
        for (const task of tasks.values()) {
          const alerts = latestPerId(task.engine.flush?.() ?? []);
          if (alerts.length > 0) await effects(task, alerts, [], [], []);
        }
      });
    },
    annotate(id, mutate, stored) {
      return serial(async () => {
        const owner = tasks.get(active.get(id)?.partition ?? -1);
        let alerts = owner?.engine.annotate?.(id, mutate) ?? [];
        if (alerts.length === 0) {
          const found = await stored();
          if (found === undefined) return undefined;
          const next = structuredClone(found);
          mutate(next);
          next.revision += 1;
          alerts = [next];
        }
        await effects(owner, alerts, [], [], []);
        return alerts[0];
      });
    },
    onAlert(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    activeByRule() {
      const counts = new Map<string, { rule: string; severity: string; count: number }>();
      for (const { rule, severity } of active.values()) {
        const key = `${rule}\u0000${severity}`;
        const c = counts.get(key);
        if (c) c.count += 1;
        else counts.set(key, { rule, severity, count: 1 });
      }
      return [...counts.values()];
    },
  };
}
