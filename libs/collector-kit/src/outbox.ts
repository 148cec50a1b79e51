import {
  encodeDeadLetter,
  encodeEvent,
  entityKey,
  heartbeatKey,
  refusedDeadLetter,
  sessionKey,
  type CollectorName,
  type DeadLetter,
  type VigieEvent,
} from '@vigie/contract';
import {
  PackedMessages,
  TextArena,
  detachString,
  type OutgoingMessage,
  type RejectedMessage,
  type ReliableProducer,
} from '@vigie/kafka';
import type { CollectorKitMetrics } from './collector-metrics.js';
import { createRoutes, type Routes, type TopicNames } from './routes.js';
import { stringifyEvent } from './stringify-event.js';

/** What a collector hands to its outbox: an event, or a dead letter it made itself (a record it could not read). */
export type OutboxItem = VigieEvent | DeadLetter;
/** Kind of an item, as counted once acknowledged. */
export type OutboxKind = OutboxItem['kind'];

/** Options of {@link Outbox}; `W` is the collector's position type (log offset, LSN, nothing). */
export interface OutboxOptions<W> {
  collector: CollectorName;
  cluster: string;
  /** Topic names; events are routed by the contract's `topicOf()`. */
  topics: TopicNames;
  /** Events sent and not acknowledged, at most (the collector stops reading when {@link Outbox.full}). */
  maxInFlightEvents: number;
  maxInFlightBytes?: number;
  /** Messages per Kafka request when the outbox cuts batches itself (`autoSend`); unbounded otherwise. */
  maxBatchEvents?: number;
  /**
   * Send by itself: whatever is queued leaves as soon as nothing is in flight, so batching grows with load without
   * a linger timer (replication, egress). Without it the collector decides when to {@link Outbox.cut} (pglog: at
   * its batch limits, at the end of the log, when Kafka is idle).
   */
  autoSend?: boolean;
  /**
   * Largest encoded event: Kafka refuses a record batch above `message.max.bytes` (1 MiB by default) and the
   * producer would retry it forever. A bigger statement event has its redacted text cut; anything still bigger
   * becomes a dead letter.
   */
  maxEventBytes?: number;
  /**
   * Validate one event in N against the contract with zod (1, the default: all). pglog's events are built by its
   * own code, whose output the unit tests validate field by field; zod on every event cost more than the whole
   * parse (bench/pglog-throughput.ts), so it samples. Dead letters are always validated.
   */
  validateEvery?: number;
  /** The standard collector metrics, kept up to date (produced, pending, latency, dead letters). */
  metrics?: CollectorKitMetrics;
  /**
   * Called in order with the watermark of every acknowledged batch (everything before it is in Kafka or
   * dead-lettered) and the kind of each event in it: the collector's checkpoint. Only kinds are kept while a batch
   * is in flight: holding the event objects until the ack made every one of them survive young-generation
   * collections (a third of pglog's CPU went to GC).
   */
  onAcknowledged?: (watermark: W | undefined, ackedKinds: readonly OutboxKind[]) => void;
  /** An event the contract refused (a collector bug): it went to the dead-letter topic instead, counted. */
  onInvalid?: (event: OutboxItem, error: unknown) => void;
  /**
   * A message Kafka refused for good (larger than the topic's `max.message.bytes`, a record it rejects), with the
   * Kafka error: a dead letter took its place (`deadLettered`), or — a dead letter refused itself — nothing could.
   */
  onKafkaRejected?: (rejected: RejectedMessage, deadLettered: boolean) => void;
  /**
   * Kafka refused the collector for good (authentication, TLS, a missing ACL) or the producer stopped: nothing more
   * is sent or acknowledged; the collector's source keeps what was not (a restart sends it again).
   */
  onFailed?: (error: unknown) => void;
}

interface Batch<W> {
  kinds: OutboxKind[];
  /** Acknowledged (and its refused messages dead-lettered): settled once every earlier batch is. */
  complete: boolean;
  /** The arena's mark when the batch was cut: released with the acknowledgement. */
  arenaMark: number;
  bytes: number;
  watermark: W | undefined;
  done: Promise<void>;
}

/**
 * Every collector's way to Kafka: encodes events (dead-lettering what the contract refuses), routes them by the
 * contract's `topicOf()`, keys them by session, sends them in batches through the reliable producer and tracks
 * what is in flight. Each batch carries a watermark (the source position a checkpoint may move to once the batch
 * and all earlier ones are acknowledged); the producer sends sequentially, so acknowledgements arrive in order.
 * Bounded by events and bytes: when full the collector stops reading ({@link full}, {@link whenAtMost}) — memory
 * stays flat during a Kafka outage. At-least-once: a watermark is never reported before Kafka acknowledged (or
 * dead-lettered) every event queued before it.
 */
export class Outbox<W = never> {
  /** The batch being built, packed (see PackedMessages: message objects outlived young-generation collections). */
  private queued = new PackedMessages();
  private kinds: OutboxKind[] = [];
  /** Source position of each queued message, when given (autoSend batches take the last one). */
  private positions: (W | undefined)[] = [];
  private bytes = 0;
  private readonly inFlight: Batch<W>[] = [];
  private inFlightEvents = 0;
  private inFlightBytes = 0;
  private counter = 0;
  private failure: { error: unknown } | undefined;
  private waiters: { limit: number; resolve: () => void }[] = [];

  private readonly arena = new TextArena();
  private readonly keys = new Map<string, string>();
  private readonly routes: Routes;
  private readonly deadletterKey: string;
  private readonly collectorKey: string;

  constructor(
    private readonly producer: ReliableProducer,
    private readonly options: OutboxOptions<W>,
  ) {
    this.routes = createRoutes(options.topics);
    this.deadletterKey = entityKey(options.cluster, 'deadletter');
    this.collectorKey = entityKey(options.cluster, options.collector);
  }

  /**
   * The message key of a session, detached from the source text (see detachString) and made once per session:
   * keys wait in flight with their events. Bounded: dropped whole at 10,000 sessions.
   */
  private keyFor(sessionId: string): string {
    let key = this.keys.get(sessionId);
    if (key === undefined) {
      if (this.keys.size >= 10_000) this.keys.clear();
      key = detachString(sessionKey(this.options.cluster, sessionId));
      this.keys.set(detachString(sessionId), key);
    }
    return key;
  }

  /**
   * Default key (what the record names; its partition is the cluster's): the session's, the collector instance's for
   * a heartbeat, the collector's for the rest.
   */
  private defaultKey(event: VigieEvent): string {
    if (event.session) return this.keyFor(event.session.id);
    if (event.kind === 'collector.heartbeat') return heartbeatKey(event.cluster, event.collector, event.instance);
    return this.collectorKey;
  }

  /**
   * The event's JSON, as bytes off the V8 heap (see TextArena). Same text as `encodeEvent` writes, which validates
   * the event first.
   */
  private encode(event: VigieEvent): Buffer {
    const every = this.options.validateEvery ?? 1;
    this.counter += 1;
    return every <= 1 || this.counter % every === 0 ? encodeEvent(event) : this.arena.encode(stringifyEvent(event));
  }

  /** Topic names this outbox writes to (for `ensureTopics`). */
  get topics(): readonly string[] {
    return this.routes.all;
  }

  /** Events waiting to be sent, plus events sent and not acknowledged; 0 once the outbox failed for good. */
  get pending(): number {
    return this.failure ? 0 : this.kinds.length + this.inFlightEvents;
  }

  /** Events sent and not yet acknowledged. */
  get inFlightCount(): number {
    return this.inFlightEvents;
  }

  /** The error Kafka refused the collector with, once it did (nothing more is sent). */
  get failed(): { error: unknown } | undefined {
    return this.failure;
  }

  /** The in-flight window is full: stop reading until {@link waitOne} returns. */
  full(): boolean {
    return (
      this.inFlightEvents >= this.options.maxInFlightEvents ||
      this.inFlightBytes >= (this.options.maxInFlightBytes ?? Number.POSITIVE_INFINITY)
    );
  }

  /** Encoded bytes of the batch being built. */
  get batchBytes(): number {
    return this.bytes;
  }

  /** Number of events in the batch being built. */
  get batchSize(): number {
    return this.kinds.length;
  }

  /**
   * Encodes and queues one event (or dead letter) for the next batch, routed by its kind. `key` defaults to the
   * session's (`<cluster>/<session_id>`); `position` is the source position the event makes safe to checkpoint
   * once acknowledged (autoSend batches report the last one they carry).
   */
  add(item: OutboxItem, options?: { key?: string | undefined; position?: W | undefined }): void {
    if (this.failure) return;
    const { cluster } = this.options;
    let value: Buffer;
    let topic: string;
    let key: string;
    let kind: OutboxKind = item.kind;
    const maxEventBytes = this.options.maxEventBytes ?? 900_000;
    try {
      if (item.kind === 'deadletter') {
        value = encodeDeadLetter(item);
        topic = this.routes.deadletter;
        // Counted by the collector that made it (it knows the record's reason when it rejects it).
        key = options?.key ?? this.deadletterKey;
      } else {
        value = this.encode(item);
        if (value.length > maxEventBytes && item.kind === 'statement') {
          const cut = { ...item, sql: { ...item.sql, redacted: `${item.sql.redacted.slice(0, 65_536)} …(truncated)` } };
          value = encodeEvent(cut);
        }
        if (value.length > maxEventBytes) throw new Error(`event of ${value.length} bytes exceeds ${maxEventBytes}`);
        topic = this.routes.topicOf(item.kind);
        key = options?.key ?? this.defaultKey(item);
      }
    } catch (error) {
      this.options.onInvalid?.(item, error);
      this.options.metrics?.reject('invalid_event');
      const letter: DeadLetter = {
        v: 1,
        id: `${item.id}:invalid`,
        kind: 'deadletter',
        cluster,
        ts: item.ts,
        component: this.options.collector,
        reason: 'invalid_event',
        detail: `event ${item.kind} refused by the contract`.slice(0, 200),
        source: item.source ?? {},
        excerpt: '',
      };
      value = encodeDeadLetter(letter);
      topic = this.routes.deadletter;
      key = this.deadletterKey;
      kind = letter.kind;
    }
    // Every event of a cluster goes to the cluster's partition of its topic: the detector owns state per cluster
    // (sessions, roles, hosts, transactions), so one partition number of every input topic holds all of it.
    this.queued.push(topic, key, value, cluster);
    this.kinds.push(kind);
    this.positions.push(options?.position);
    this.bytes += value.length;
    if (!this.options.autoSend) return;
    // Per event only here (an event per transaction or per sample round): pglog's hot path sets it per batch.
    this.options.metrics?.pendingEvents.set(this.pending);
    if (this.inFlight.length === 0) this.cut();
  }

  /**
   * Sends the batch being built (at most `maxBatchEvents` of it) with `watermark`, or, without one, the last
   * position given to {@link add} for its events. With nothing to send, a watermark is still recorded: it becomes
   * the checkpoint as soon as everything in flight is acknowledged (immediately when nothing is).
   */
  cut(watermark?: W): void {
    if (this.failure) return;
    if (this.kinds.length === 0) {
      if (watermark === undefined) return;
      const last = this.inFlight[this.inFlight.length - 1];
      if (last) last.watermark = watermark;
      else this.options.onAcknowledged?.(watermark, []);
      return;
    }
    const n = Math.min(this.kinds.length, this.options.maxBatchEvents ?? Number.POSITIVE_INFINITY);
    let kinds: OutboxKind[];
    let packed: PackedMessages;
    let positions: (W | undefined)[];
    let bytes: number;
    if (n === this.kinds.length) {
      kinds = this.kinds;
      packed = this.queued;
      positions = this.positions;
      bytes = this.bytes;
      this.kinds = [];
      this.queued = new PackedMessages();
      this.positions = [];
      this.bytes = 0;
    } else {
      kinds = this.kinds.splice(0, n);
      packed = this.queued.shift(n);
      positions = this.positions.splice(0, n);
      bytes = 0;
      for (const b of packed.valueBytes) bytes += b;
      this.bytes -= bytes;
      watermark = undefined; // the explicit watermark covers everything queued, not this part of it
    }
    if (watermark === undefined) {
      for (let i = positions.length - 1; i >= 0 && watermark === undefined; i -= 1) watermark = positions[i];
    }
    const started = process.hrtime.bigint();
    const batch: Batch<W> = {
      kinds,
      complete: false,
      arenaMark: this.arena.mark(),
      bytes,
      watermark,
      done: Promise.resolve(),
    };
    // Objects for the producer's interface only: it packs them again at once and they die young. In flight, the
    // batch is the packed arrays (where a refused message is found) and its kinds.
    batch.done = this.producer.send(packed.messages()).then(
      async ({ rejected }) => {
        // Before the batch settles: the refused messages' bytes live in the arena the settlement releases.
        if (rejected.length > 0) await this.deadLetterRejected(rejected, packed, kinds);
        this.options.metrics?.produceLatency.observe(Number(process.hrtime.bigint() - started) / 1e9);
        batch.complete = true;
        this.settle();
      },
      (error: unknown) => {
        this.fail(error);
        throw error;
      },
    );
    // Marked handled here; waitOne/drain still see the rejection (producer stopped, or refused for good).
    batch.done.catch(() => undefined);
    this.inFlight.push(batch);
    this.inFlightEvents += kinds.length;
    this.inFlightBytes += bytes;
    this.options.metrics?.pendingEvents.set(this.pending);
  }

  /**
   * Kafka refused the collector for good, or the producer stopped: nothing after this batch may be acknowledged
   * (it would move the checkpoint past lost events), so the batch stays in flight, the queue is dropped and the
   * readers waiting for room are released.
   */
  private fail(error: unknown): void {
    if (this.failure) return;
    this.failure = { error };
    this.queued = new PackedMessages();
    this.kinds = [];
    this.positions = [];
    this.bytes = 0;
    this.options.metrics?.pendingEvents.set(0);
    for (const w of this.waiters) w.resolve();
    this.waiters = [];
    this.options.onFailed?.(error);
  }

  /**
   * Acknowledges, in order, every batch at the head of the window that is complete. A batch with refused messages
   * completes after its dead letters landed, so a later batch may complete first: its watermark waits for the
   * earlier one, and the checkpoint never passes an event that is neither in Kafka nor dead-lettered.
   */
  private settle(): void {
    const metrics = this.options.metrics;
    while (this.inFlight[0]?.complete) {
      const batch = this.inFlight.shift()!;
      this.inFlightEvents -= batch.kinds.length;
      this.inFlightBytes -= batch.bytes;
      // Acknowledged: the producer is done with this batch's and every earlier batch's bytes.
      this.arena.release(batch.arenaMark);
      if (metrics) {
        // One counter update per kind and batch: prom-client hashes the labels on every inc().
        const perKind = new Map<string, number>();
        for (const k of batch.kinds) perKind.set(k, (perKind.get(k) ?? 0) + 1);
        for (const [kind, n] of perKind) metrics.produced(kind, n);
      }
      this.options.onAcknowledged?.(batch.watermark, batch.kinds);
    }
    metrics?.pendingEvents.set(this.pending);
    this.notify();
    if (this.options.autoSend && this.inFlight.length === 0 && this.kinds.length > 0) this.cut();
  }

  private notify(): void {
    if (this.waiters.length === 0) return;
    const pending = this.pending;
    const ready = this.waiters.filter((w) => pending <= w.limit);
    if (ready.length === 0) return;
    this.waiters = this.waiters.filter((w) => pending > w.limit);
    for (const w of ready) w.resolve();
  }

  /**
   * Replaces every message Kafka refused for good by a dead letter naming the event, its source position, its size
   * and the Kafka error (no content), and sends them; the refused event's kind becomes `deadletter`. Without this,
   * a topic whose `max.message.bytes` is below the batch size kept the batch at the head of the window forever and
   * froze the checkpoint. A refused dead letter cannot be dead-lettered: it is reported and dropped.
   */
  private async deadLetterRejected(
    rejected: readonly RejectedMessage[],
    packed: PackedMessages,
    kinds: OutboxKind[],
  ): Promise<void> {
    const { cluster, collector } = this.options;
    const letters: OutgoingMessage[] = [];
    for (const r of rejected) {
      const index = packed.indexOfValue(r.message.value);
      if (r.message.topic === this.routes.deadletter) {
        this.options.onKafkaRejected?.(r, false);
        continue;
      }
      const letter = refusedDeadLetter(
        {
          topic: r.message.topic,
          value: r.message.value,
          bytes: Number(r.error.context['bytes'] ?? 0),
          error: String(r.error.context['error'] ?? r.error.code),
        },
        cluster,
        collector,
      );
      letters.push({
        topic: this.routes.deadletter,
        key: this.deadletterKey,
        value: encodeDeadLetter(letter),
        partitionKey: cluster,
      });
      if (index >= 0) kinds[index] = 'deadletter';
      this.options.metrics?.reject('kafka_rejected');
      this.options.onKafkaRejected?.(r, true);
    }
    if (letters.length === 0) return;
    const again = await this.producer.send(letters);
    for (const r of again.rejected) this.options.onKafkaRejected?.(r, false);
  }

  /** Waits for the oldest batch in flight (rejects if the producer was stopped before it landed). */
  async waitOne(): Promise<void> {
    await this.inFlight[0]?.done;
  }

  /** Waits for every batch in flight (rejects as {@link waitOne}). */
  async drain(): Promise<void> {
    while (this.inFlight.length > 0) await this.waitOne();
  }

  /** Resolves once at most `limit` events are pending (backpressure for a reader), or the outbox failed. */
  whenAtMost(limit: number): Promise<void> {
    if (this.pending <= limit) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ limit, resolve }));
  }

  /**
   * Sends what is queued and resolves once everything is acknowledged, or the outbox failed (never rejects: the
   * failure went to `onFailed`).
   */
  flush(): Promise<void> {
    if (this.kinds.length > 0 && (!this.options.autoSend || this.inFlight.length === 0)) this.cut();
    return this.whenAtMost(0);
  }
}
