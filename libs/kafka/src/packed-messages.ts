import type { RecordSource } from './wire/protocol.js';

/** What {@link PackedMessages} is made from (the producer's `OutgoingMessage`). */
interface Message {
  topic: string;
  key: string;
  value: Buffer | string;
  partitionKey?: string;
}

/**
 * Messages packed into arrays: topics, keys, and for each value its text or the memory its bytes lie in with an
 * offset and a length; no object per message. A batch is built for tens of milliseconds (collector-kit's outbox)
 * and waits for its acknowledgement, behind earlier ones, as long again: kept as objects, each message and its
 * Buffer view outlived two young-generation collections and was promoted to the old generation, to die there (the
 * log collector end to end, bench/pglog-throughput.ts: ~300 MB promoted per 500,000 events, a fifth of its CPU in
 * garbage collection). The producer packs what it is sent at once and keeps nothing of the caller's objects. The
 * bytes are not copied: they must stay where the caller encoded them (the outbox's arena) until the send resolves.
 */
export class PackedMessages {
  readonly topics: string[] = [];
  readonly keys: string[] = [];
  /** What picks each message's partition when it is not its key (undefined: the key). */
  readonly partitionKeys: (string | undefined)[] = [];
  /** Bytes of each value. */
  readonly valueBytes: number[] = [];
  /** A value's text, or a Buffer over the whole memory its bytes lie in (shared by the values in that memory). */
  private readonly sources: (string | Buffer)[] = [];
  /** Where a Buffer value starts in its source (-1 for a text). */
  private readonly offsets: number[] = [];
  private lastMemory: ArrayBufferLike | undefined;
  private lastWhole: Buffer | undefined;

  constructor(messages: readonly Message[] = []) {
    for (const m of messages) this.push(m.topic, m.key, m.value, m.partitionKey);
  }

  /** Adds a message; `value`'s bytes must stay as they are until the messages are sent. */
  push(topic: string, key: string, value: Buffer | string, partitionKey?: string): void {
    this.topics.push(topic);
    this.keys.push(key);
    this.partitionKeys.push(partitionKey);
    if (typeof value === 'string') {
      this.sources.push(value);
      this.offsets.push(-1);
      this.valueBytes.push(Buffer.byteLength(value));
    } else {
      this.sources.push(this.wholeOf(value));
      this.offsets.push(value.byteOffset);
      this.valueBytes.push(value.length);
    }
  }

  /** Removes the first `n` messages and returns them, packed. */
  shift(n: number): PackedMessages {
    const head = new PackedMessages();
    head.topics.push(...this.topics.splice(0, n));
    head.keys.push(...this.keys.splice(0, n));
    head.partitionKeys.push(...this.partitionKeys.splice(0, n));
    head.valueBytes.push(...this.valueBytes.splice(0, n));
    head.sources.push(...this.sources.splice(0, n));
    head.offsets.push(...this.offsets.splice(0, n));
    return head;
  }

  /** A Buffer over all of the memory `v` lies in; consecutive values usually share it (one arena chunk). */
  private wholeOf(v: Buffer): Buffer {
    if (v.buffer !== this.lastMemory) {
      this.lastMemory = v.buffer;
      this.lastWhole = Buffer.from(v.buffer);
    }
    return this.lastWhole!;
  }

  get length(): number {
    return this.topics.length;
  }

  /** Bytes of message `i`'s key and value (what a request's size is bounded by). */
  size(i: number): number {
    return this.valueBytes[i]! + Buffer.byteLength(this.keys[i]!);
  }

  /** Writes message `i`'s value into `buf` at `at`; returns the bytes written. */
  writeValue(i: number, buf: Buffer, at: number): number {
    const source = this.sources[i]!;
    if (typeof source === 'string') return buf.write(source, at);
    const start = this.offsets[i]!;
    return source.copy(buf, at, start, start + this.valueBytes[i]!);
  }

  /** Message `i` as an object again: a view of the same bytes (a refused message, handed back to the caller). */
  message(i: number): Message {
    const source = this.sources[i]!;
    const start = this.offsets[i]!;
    const value = typeof source === 'string' ? source : source.subarray(start, start + this.valueBytes[i]!);
    const partitionKey = this.partitionKeys[i];
    return partitionKey === undefined
      ? { topic: this.topics[i]!, key: this.keys[i]!, value }
      : { topic: this.topics[i]!, key: this.keys[i]!, value, partitionKey };
  }

  /** The messages as objects, for a producer (which packs them again at once: they live for a moment). */
  messages(): Message[] {
    const out: Message[] = [];
    for (let i = 0; i < this.topics.length; i += 1) out.push(this.message(i));
    return out;
  }

  /** Index of the message whose value is `value` or a view of the same bytes (a refused message), or -1. */
  indexOfValue(value: Buffer | string): number {
    const memory = typeof value === 'string' ? value : value.buffer;
    const offset = typeof value === 'string' ? -1 : value.byteOffset;
    for (let i = 0; i < this.offsets.length; i += 1) {
      if (this.offsets[i] !== offset) continue;
      const source = this.sources[i]!;
      if ((typeof source === 'string' ? source : source.buffer) === memory) return i;
    }
    return -1;
  }

  /** The records of the messages at `indices`, in that order, for a produce request. */
  records(indices: readonly number[]): RecordSource {
    return {
      length: indices.length,
      keyAt: (i) => this.keys[indices[i]!]!,
      valueBytesAt: (i) => this.valueBytes[indices[i]!]!,
      writeValueAt: (i, buf, at) => this.writeValue(indices[i]!, buf, at),
    };
  }
}
