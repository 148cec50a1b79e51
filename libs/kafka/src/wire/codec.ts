// Kafka's primitive types (https://kafka.apache.org/protocol#protocol_types), big-endian, for the few non-flexible
// request and response versions the producer speaks (see protocol.ts).

/** Bytes of a zigzag-encoded varint for a signed 32-bit `n`. */
export function varintSize(n: number): number {
  const z = ((n << 1) ^ (n >> 31)) >>> 0;
  if (z < 0x80) return 1;
  if (z < 0x4000) return 2;
  if (z < 0x200000) return 3;
  if (z < 0x10000000) return 4;
  return 5;
}

/** Writes a zigzag varint at `offset`; returns the offset after it. */
export function writeVarint(buf: Buffer, offset: number, n: number): number {
  let z = ((n << 1) ^ (n >> 31)) >>> 0;
  while (z >= 0x80) {
    buf[offset++] = (z & 0x7f) | 0x80;
    z >>>= 7;
  }
  buf[offset++] = z;
  return offset;
}

/** Reads a zigzag varint at `offset`: [value, offset after it]. */
export function readVarint(buf: Buffer, offset: number): [number, number] {
  let z = 0;
  for (let shift = 0; shift <= 28; shift += 7) {
    const b = buf[offset++];
    if (b === undefined) throw new RangeError('varint runs past the end of the buffer');
    z |= (b & 0x7f) << shift;
    if (b < 0x80) return [(z >>> 1) ^ -(z & 1), offset];
  }
  throw new RangeError('varint longer than 5 bytes');
}

/** Appends to a buffer that grows as needed; `finish()` returns the bytes written. */
export class Writer {
  buf: Buffer;
  offset = 0;

  /** Writes into `reuse` when given (its old contents are overwritten), else into a new buffer of `capacity`. */
  constructor(capacity = 256, reuse?: Buffer) {
    this.buf = reuse ?? Buffer.allocUnsafe(capacity);
  }

  /** Makes room for `n` more bytes. */
  ensure(n: number): void {
    if (this.offset + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.offset + n));
    this.buf.copy(next, 0, 0, this.offset);
    this.buf = next;
  }

  int8(v: number): this {
    this.ensure(1);
    this.offset = this.buf.writeInt8(v, this.offset);
    return this;
  }

  int16(v: number): this {
    this.ensure(2);
    this.offset = this.buf.writeInt16BE(v, this.offset);
    return this;
  }

  int32(v: number): this {
    this.ensure(4);
    this.offset = this.buf.writeInt32BE(v, this.offset);
    return this;
  }

  int64(v: bigint): this {
    this.ensure(8);
    this.offset = this.buf.writeBigInt64BE(v, this.offset);
    return this;
  }

  bool(v: boolean): this {
    return this.int8(v ? 1 : 0);
  }

  /** STRING / NULLABLE_STRING: int16 length (-1 for null), UTF-8 bytes. */
  string(v: string | null): this {
    if (v === null) return this.int16(-1);
    const n = Buffer.byteLength(v);
    this.int16(n);
    this.ensure(n);
    this.offset += this.buf.write(v, this.offset);
    return this;
  }

  /** BYTES / NULLABLE_BYTES: int32 length (-1 for null), the bytes. */
  bytes(v: Uint8Array | null): this {
    if (v === null) return this.int32(-1);
    this.int32(v.length);
    this.ensure(v.length);
    this.buf.set(v, this.offset);
    this.offset += v.length;
    return this;
  }

  /** ARRAY: int32 count (-1 for null), then each item. */
  array<T>(items: readonly T[] | null, write: (w: this, item: T) => void): this {
    if (items === null) return this.int32(-1);
    this.int32(items.length);
    for (const item of items) write(this, item);
    return this;
  }

  finish(): Buffer {
    return this.buf.subarray(0, this.offset);
  }
}

/** Reads a response body; every read checks the bounds (a short or corrupt response is an error, not garbage). */
export class Reader {
  offset = 0;

  constructor(private readonly buf: Buffer) {}

  private need(n: number): void {
    if (this.offset + n > this.buf.length) {
      throw new RangeError(`response ends at byte ${this.buf.length}, ${n} more needed at ${this.offset}`);
    }
  }

  int8(): number {
    this.need(1);
    return this.buf.readInt8(this.offset++);
  }

  int16(): number {
    this.need(2);
    const v = this.buf.readInt16BE(this.offset);
    this.offset += 2;
    return v;
  }

  int32(): number {
    this.need(4);
    const v = this.buf.readInt32BE(this.offset);
    this.offset += 4;
    return v;
  }

  int64(): bigint {
    this.need(8);
    const v = this.buf.readBigInt64BE(this.offset);
    this.offset += 8;
    return v;
  }

  bool(): boolean {
    return this.int8() !== 0;
  }

  string(): string | null {
    const n = this.int16();
    if (n < 0) return null;
    this.need(n);
    const v = this.buf.toString('utf8', this.offset, this.offset + n);
    this.offset += n;
    return v;
  }

  /** BYTES / NULLABLE_BYTES (a copy: the frame it came from is not kept alive). */
  bytes(): Buffer | null {
    const n = this.int32();
    if (n < 0) return null;
    this.need(n);
    const v = Buffer.from(this.buf.subarray(this.offset, this.offset + n));
    this.offset += n;
    return v;
  }

  array<T>(read: (r: this) => T): T[] {
    const n = this.int32();
    if (n > this.remaining) throw new RangeError(`array of ${n} items in ${this.remaining} bytes`);
    const items: T[] = [];
    for (let i = 0; i < n; i += 1) items.push(read(this));
    return items;
  }

  get remaining(): number {
    return this.buf.length - this.offset;
  }
}
