import {
  encodeDeadLetter,
  refusedDeadLetter,
  encodeEvent,
  entityKey,
  sessionKey,
  type DeadLetter,
  type StatementEvent,
  type VigieEvent,
} from '@vigie/contract';
import {
  TextArena,
  detachString,
  type OutgoingMessage,
  type RejectedMessage,
  type ReliableProducer,
} from '@vigie/kafka';
import type { ParserOutput } from '@vigie/pglog';

/** JSON of objects events share by reference (see {@link stringifyEvent}); entries go with their objects. */
const sharedJson = new WeakMap<object, string>();
/** `{"file":<path>,"offset":` by log file path (bounded). */
const fileJson = new Map<string, string>();
/** A `source` of exactly `{ file, offset }` (a finite number), in that order: what JSON.stringify writes as below. */
function isFilePosition(v: unknown): v is { file: string; offset: number } {
  if (typeof v !== 'object' || v === null) return false;
  const keys = Object.keys(v);
  const { file, offset } = v as { file?: unknown; offset?: unknown };
  return (
    keys.length === 2 &&
    keys[0] === 'file' &&
    keys[1] === 'offset' &&
    typeof file === 'string' &&
    typeof offset === 'number' &&
    Number.isFinite(offset)
  );
}
/** `"key":` of each event member name seen (a handful). */
const memberJson = new Map<string, string>();

/**
 * `JSON.stringify(event)`, the same text, with the members events share by reference encoded once: `sql` (the
 * analyzer returns one frozen analysis per statement shape) and `session` (the parser one frozen object per session
 * while it does not change). They are about 60 % of a statement event's ~900 bytes, and JSON.stringify was the
 * collector's largest cost end to end (24 % of its CPU in a profile of bench/pglog-throughput).
 */
export function stringifyEvent(event: VigieEvent): string {
  if (event.kind === 'statement') return stringifyStatement(event);
  let out = '{';
  for (const key in event) {
    const value: unknown = (event as unknown as Record<string, unknown>)[key];
    if (value === undefined || typeof value === 'function' || typeof value === 'symbol') continue;
    const member = memo(memberJson, key, memberPrefix);
    let json: string;
    if ((key === 'sql' || key === 'session') && typeof value === 'object' && value !== null) json = sharedOrJson(value);
    else if (key === 'source') json = sourceJson(value);
    else json = JSON.stringify(value);
    out += out.length > 1 ? `,${member}${json}` : member + json;
  }
  return `${out}}`;
}

/** JSON of a frozen shared member (cached), or of any other value. */
function sharedOrJson(value: object): string {
  if (!Object.isFrozen(value)) return JSON.stringify(value);
  let json = sharedJson.get(value);
  if (json === undefined) sharedJson.set(value, (json = JSON.stringify(value)));
  return json;
}

/** JSON of an event's `source`: the log file's path is the same for thousands of events. */
function sourceJson(source: unknown): string {
  if (!isFilePosition(source)) return JSON.stringify(source);
  const file = memo(fileJson, source.file, filePrefix);
  return `${file}${source.offset}}`;
}

const filePrefix = (file: string): string => `{"file":${JSON.stringify(file)},"offset":`;
const memberPrefix = (key: string): string => `${JSON.stringify(key)}:`;

/** `map`'s value for `key`, made and kept on first use; the map is emptied when it reaches 1,000 entries. */
function memo(map: Map<string, string>, key: string, make: (key: string) => string): string {
  let value = map.get(key);
  if (value === undefined) {
    if (map.size >= 1000) map.clear();
    map.set(key, (value = make(key)));
  }
  return value;
}

/** JSON of strings with few distinct values (cluster, roles, pgaudit class and command), bounded. */
const fewJson = new Map<string, string>();
const quote = (s: string): string => JSON.stringify(s);
const fewString = (s: string): string => memo(fewJson, s, quote);

const AUDIT_TYPES_JSON: Record<string, string> = {
  SESSION: '["SESSION"]',
  OBJECT: '["OBJECT"]',
  'OBJECT,SESSION': '["OBJECT","SESSION"]',
};

/**
 * {@link stringifyEvent} of the statement event (nine events in ten), written member by member in the order the
 * parser builds it (`emit` in log-parser.ts: one literal, absent members undefined), which is JSON.stringify's
 * order: a third of stringifyEvent's time was its generic walk over the members (bench/pglog-throughput.ts
 * profile). Unit tests compare the text with JSON.stringify's on every captured statement.
 */
function stringifyStatement(e: StatementEvent): string {
  const a = e.audit;
  let audit = `{"auditTypes":${AUDIT_TYPES_JSON[a.auditTypes.join(',')] ?? JSON.stringify(a.auditTypes)},"statementId":${a.statementId},"substatementId":${a.substatementId},"class":${fewString(a.class)},"command":${fewString(a.command)},"objects":${JSON.stringify(a.objects)},"parameterCount":${a.parameterCount}`;
  if (a.parameterHashes !== undefined) audit += `,"parameterHashes":${JSON.stringify(a.parameterHashes)}`;
  if (a.rows !== undefined) audit += `,"rows":${a.rows}`;
  let out = `{"v":${e.v},"id":${JSON.stringify(e.id)},"cluster":${fewString(e.cluster)},"ts":${JSON.stringify(e.ts)}`;
  if (e.session !== undefined) out += `,"session":${sharedOrJson(e.session)}`;
  if (e.source !== undefined) out += `,"source":${sourceJson(e.source)}`;
  out += `,"kind":"statement","audit":${audit}}`;
  if (e.effectiveRole !== undefined) out += `,"effectiveRole":${fewString(e.effectiveRole)}`;
  if (e.queryId !== undefined) out += `,"queryId":${JSON.stringify(e.queryId)}`;
  if (e.txid !== undefined) out += `,"txid":${JSON.stringify(e.txid)}`;
  return `${out},"sql":${sharedOrJson(e.sql)}}`;
}

/** Options of {@link KafkaSink}. */
export interface KafkaSinkOptions<W> {
  cluster: string;
  topics: { activity: string; deadletter: string };
  maxInFlightEvents: number;
  maxInFlightBytes: number;
  /**
   * Largest encoded event: Kafka refuses a record batch above `message.max.bytes` (1 MiB by default) and the
   * producer would retry it forever. A bigger statement event has its redacted text cut; anything still bigger
   * becomes a dead letter.
   */
  maxEventBytes?: number;
  /**
   * Validate one event in N against the contract with zod (1 = all). Events are built by this package's own code,
   * whose output the unit tests validate field by field; zod on every event cost more than the whole parse
   * (bench/pglog-throughput.ts), so production samples. Dead letters are always validated.
   */
  validateEvery?: number;
  /**
   * Called in order with the watermark of every acknowledged batch (everything before it is in Kafka) and the kind
   * of each event in it. Only kinds are kept while a batch is in flight: holding the event objects until the ack
   * made every one of them survive young-generation collections (a third of the CPU went to GC).
   */
  onAcknowledged: (watermark: W, ackedKinds: readonly ParserOutput['kind'][]) => void;
  /** An event the contract refused (a collector bug): it goes to the dead-letter topic instead. */
  onInvalid?: (event: ParserOutput, error: unknown) => void;
  /**
   * A message Kafka refused for good (larger than the topic's `max.message.bytes`, a record it rejects), with the
   * Kafka error: a dead letter took its place (`deadLettered`), or — a dead letter refused itself — nothing could.
   */
  onKafkaRejected?: (rejected: RejectedMessage, deadLettered: boolean) => void;
  observeLatency?: (seconds: number) => void;
}

interface Batch<W> {
  kinds: ParserOutput['kind'][];
  /** Acknowledged (and its refused messages dead-lettered): settled once every earlier batch is. */
  complete: boolean;
  /** The arena's mark when the batch was cut: released with the acknowledgement. */
  arenaMark: number;
  bytes: number;
  watermark: W;
  done: Promise<void>;
}

/**
 * Sends events in batches through the reliable producer and tracks what is in flight. Each batch carries a
 * watermark (the log position a checkpoint may move to once the batch and all earlier ones are acknowledged);
 * the producer sends sequentially, so acknowledgements arrive in order. Bounded by events and bytes: when full,
 * the caller stops reading ({@link KafkaSink.full}) — memory stays flat during a Kafka outage.
 */
export class KafkaSink<W> {
  private messages: OutgoingMessage[] = [];
  private kinds: ParserOutput['kind'][] = [];
  private bytes = 0;
  private readonly inFlight: Batch<W>[] = [];
  private inFlightEvents = 0;
  private inFlightBytes = 0;
  private counter = 0;

  private readonly arena = new TextArena();
  private readonly keys = new Map<string, string>();

  /**
   * The message key of a session, detached from the log text (see detachString) and made once per session: keys
   * wait in flight with their events. Bounded: dropped whole at 10,000 sessions.
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
   * The event's JSON, as bytes off the V8 heap (see TextArena). Same text as `encodeEvent` writes (`queryId` is a
   * JSON string in both), which validates the event first.
   */
  private encode(event: VigieEvent): Buffer {
    const every = this.options.validateEvery ?? 1000;
    this.counter += 1;
    return every <= 1 || this.counter % every === 0 ? encodeEvent(event) : this.arena.encode(stringifyEvent(event));
  }

  constructor(
    private readonly producer: ReliableProducer,
    private readonly options: KafkaSinkOptions<W>,
  ) {}

  /** Events waiting to be sent, plus events sent and not acknowledged. */
  get pending(): number {
    return this.kinds.length + this.inFlightEvents;
  }

  /** Events sent and not yet acknowledged. */
  get inFlightCount(): number {
    return this.inFlightEvents;
  }

  /** The in-flight window is full: stop reading until {@link waitOne} returns. */
  full(): boolean {
    return this.inFlightEvents >= this.options.maxInFlightEvents || this.inFlightBytes >= this.options.maxInFlightBytes;
  }

  /** Encoded bytes of the batch being built. */
  get batchBytes(): number {
    return this.bytes;
  }

  /** Number of events in the batch being built. */
  get batchSize(): number {
    return this.kinds.length;
  }

  /** Encodes and queues one output for the next batch. */
  add(item: ParserOutput): void {
    const { cluster, topics } = this.options;
    let value: Buffer;
    let topic = topics.activity;
    let key: string;
    let kind = item.kind;
    let bytes = 0;
    const maxEventBytes = this.options.maxEventBytes ?? 900_000;
    try {
      if (item.kind === 'deadletter') {
        value = encodeDeadLetter(item);
        topic = topics.deadletter;
        key = entityKey(cluster, 'deadletter');
      } else {
        value = this.encode(item);
        bytes = value.length;
        if (bytes > maxEventBytes && item.kind === 'statement') {
          const cut = { ...item, sql: { ...item.sql, redacted: `${item.sql.redacted.slice(0, 65_536)} …(truncated)` } };
          value = encodeEvent(cut);
          bytes = value.length;
        }
        if (bytes > maxEventBytes) throw new Error(`event of ${bytes} bytes exceeds ${maxEventBytes}`);
        key = item.session ? this.keyFor(item.session.id) : entityKey(cluster, 'collector-pglog');
      }
    } catch (error) {
      this.options.onInvalid?.(item, error);
      const letter: DeadLetter = {
        v: 1,
        id: `${item.id}:invalid`,
        kind: 'deadletter',
        cluster,
        ts: item.ts,
        component: 'collector-pglog',
        reason: 'invalid_event',
        detail: `event ${item.kind} refused by the contract`.slice(0, 200),
        source: item.source ?? {},
        excerpt: '',
      };
      value = encodeDeadLetter(letter);
      topic = topics.deadletter;
      key = entityKey(cluster, 'deadletter');
      kind = letter.kind;
    }
    bytes = value.length;
    this.messages.push({ topic, key, value });
    this.kinds.push(kind);
    this.bytes += bytes;
  }

  /**
   * Sends the batch being built (if any) with `watermark`. With nothing to send, the watermark is still recorded:
   * it becomes the checkpoint as soon as everything in flight is acknowledged (immediately when nothing is).
   */
  cut(watermark: W): void {
    if (this.kinds.length === 0) {
      const last = this.inFlight[this.inFlight.length - 1];
      if (last) last.watermark = watermark;
      else this.options.onAcknowledged(watermark, []);
      return;
    }
    const kinds = this.kinds;
    const messages = this.messages;
    const bytes = this.bytes;
    this.kinds = [];
    this.messages = [];
    this.bytes = 0;
    const started = process.hrtime.bigint();
    const batch: Batch<W> = {
      kinds,
      complete: false,
      arenaMark: this.arena.mark(),
      bytes,
      watermark,
      done: Promise.resolve(),
    };
    batch.done = this.producer.send(messages).then(async ({ rejected }) => {
      // Before the batch settles: the refused messages' bytes live in the arena the settlement releases.
      if (rejected.length > 0) await this.deadLetterRejected(rejected, messages, kinds);
      this.options.observeLatency?.(Number(process.hrtime.bigint() - started) / 1e9);
      batch.complete = true;
      this.settle();
    });
    // Marked handled here; waitOne/drain still see the rejection (producer stopped, or refused for good).
    batch.done.catch(() => undefined);
    this.inFlight.push(batch);
    this.inFlightEvents += kinds.length;
    this.inFlightBytes += bytes;
  }

  /**
   * Acknowledges, in order, every batch at the head of the window that is complete. A batch with refused messages
   * completes after its dead letters landed, so a later batch may complete first: its watermark waits for the
   * earlier one, and the checkpoint never passes an event that is neither in Kafka nor dead-lettered.
   */
  private settle(): void {
    while (this.inFlight[0]?.complete) {
      const batch = this.inFlight.shift()!;
      this.inFlightEvents -= batch.kinds.length;
      this.inFlightBytes -= batch.bytes;
      // Acknowledged: the producer is done with this batch's and every earlier batch's bytes.
      this.arena.release(batch.arenaMark);
      this.options.onAcknowledged(batch.watermark, batch.kinds);
    }
  }

  /**
   * Replaces every message Kafka refused for good by a dead letter naming the event, its log position, its size
   * and the Kafka error (no content), and sends them; the refused event's kind becomes `deadletter`. Without this,
   * a topic whose `max.message.bytes` is below the batch size kept the batch at the head of the window forever and
   * froze the checkpoint. A refused dead letter cannot be dead-lettered: it is reported and dropped.
   */
  private async deadLetterRejected(
    rejected: readonly RejectedMessage[],
    messages: readonly OutgoingMessage[],
    kinds: ParserOutput['kind'][],
  ): Promise<void> {
    const { cluster, topics } = this.options;
    const letters: OutgoingMessage[] = [];
    for (const r of rejected) {
      const index = messages.indexOf(r.message);
      if (r.message.topic === topics.deadletter) {
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
        'collector-pglog',
      );
      letters.push({
        topic: topics.deadletter,
        key: entityKey(cluster, 'deadletter'),
        value: encodeDeadLetter(letter),
      });
      if (index >= 0) kinds[index] = 'deadletter';
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

  /** Waits for every batch in flight. */
  async drain(): Promise<void> {
    while (this.inFlight.length > 0) await this.waitOne();
  }
}
