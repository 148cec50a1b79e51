// The requests the producer sends, in the versions every broker since Kafka 2.1 accepts (Kafka 4 dropped older
// ones, KIP-896), all non-flexible: ApiVersions v2, Metadata v6, InitProducerId v1, Produce v7 with record batches
// of magic 2 (uncompressed, gzip or zstd), and on a SASL listener SaslHandshake v1 and SaslAuthenticate v1.
// Formats: https://kafka.apache.org/protocol.
import { varintSize, writeVarint, type Reader, type Writer } from './codec.js';
import { crc32c } from './hash.js';

/** The requests every connection needs, at the versions the producer speaks. */
export const API = {
  Produce: { key: 0, version: 7 },
  Metadata: { key: 3, version: 6 },
  ApiVersions: { key: 18, version: 2 },
  InitProducerId: { key: 22, version: 1 },
} as const;

/**
 * The SASL requests, needed only on a SASL listener. SaslHandshake stays at v1 on every broker (KAFKA-9577);
 * SaslAuthenticate v1 is the last non-flexible version and has the session lifetime.
 */
export const SASL_API = {
  SaslHandshake: { key: 17, version: 1 },
  SaslAuthenticate: { key: 36, version: 1 },
} as const;

/** Request header v1: api key, version, correlation id, client id. */
export function writeRequestHeader(
  w: Writer,
  api: { key: number; version: number },
  correlationId: number,
  clientId: string,
) {
  w.int16(api.key).int16(api.version).int32(correlationId).string(clientId);
}

// ApiVersions v2 -----------------------------------------------------------------------------------------------

export interface ApiVersionRange {
  min: number;
  max: number;
}

export function readApiVersions(r: Reader): { errorCode: number; apis: Map<number, ApiVersionRange> } {
  const errorCode = r.int16();
  const apis = new Map<number, ApiVersionRange>();
  for (const [key, range] of r.array((x) => [x.int16(), { min: x.int16(), max: x.int16() }] as const)) {
    apis.set(key, range);
  }
  return { errorCode, apis };
}

// Metadata v6 --------------------------------------------------------------------------------------------------

export interface BrokerAddress {
  nodeId: number;
  host: string;
  port: number;
}

export interface TopicMetadata {
  errorCode: number;
  name: string;
  partitions: { errorCode: number; partition: number; leader: number }[];
}

export function writeMetadata(w: Writer, topics: readonly string[]): void {
  w.array(topics, (x, t) => x.string(t)).bool(false);
}

export function readMetadata(r: Reader): {
  throttleTimeMs: number;
  brokers: BrokerAddress[];
  topics: TopicMetadata[];
} {
  const throttleTimeMs = r.int32();
  const brokers = r.array((x) => {
    const nodeId = x.int32();
    const host = x.string() ?? '';
    const port = x.int32();
    x.string(); // rack
    return { nodeId, host, port };
  });
  r.string(); // cluster_id
  r.int32(); // controller_id
  const topics = r.array((x) => {
    const errorCode = x.int16();
    const name = x.string() ?? '';
    x.bool(); // is_internal
    const partitions = x.array((p) => {
      const partitionError = p.int16();
      const partition = p.int32();
      const leader = p.int32();
      p.array((q) => q.int32()); // replica_nodes
      p.array((q) => q.int32()); // isr_nodes
      p.array((q) => q.int32()); // offline_replicas
      return { errorCode: partitionError, partition, leader };
    });
    return { errorCode, name, partitions };
  });
  return { throttleTimeMs, brokers, topics };
}

// InitProducerId v1 --------------------------------------------------------------------------------------------

export function writeInitProducerId(w: Writer): void {
  w.string(null).int32(60_000); // no transactional id; the timeout only matters for transactions
}

export function readInitProducerId(r: Reader): {
  throttleTimeMs: number;
  errorCode: number;
  producerId: bigint;
  producerEpoch: number;
} {
  const throttleTimeMs = r.int32();
  const errorCode = r.int16();
  return { throttleTimeMs, errorCode, producerId: r.int64(), producerEpoch: r.int16() };
}

// SaslHandshake v1, SaslAuthenticate v1 ----------------------------------------------------------------------

export function writeSaslHandshake(w: Writer, mechanism: string): void {
  w.string(mechanism);
}

export function readSaslHandshake(r: Reader): { errorCode: number; mechanisms: string[] } {
  const errorCode = r.int16();
  return { errorCode, mechanisms: r.array((x) => x.string() ?? '') };
}

export function writeSaslAuthenticate(w: Writer, authBytes: Uint8Array): void {
  w.bytes(authBytes);
}

export function readSaslAuthenticate(r: Reader): {
  errorCode: number;
  errorMessage: string | null;
  authBytes: Buffer;
  sessionLifetimeMs: bigint;
} {
  const errorCode = r.int16();
  const errorMessage = r.string();
  const authBytes = r.bytes() ?? Buffer.alloc(0);
  return { errorCode, errorMessage, authBytes, sessionLifetimeMs: r.int64() };
}

// Produce v7 ---------------------------------------------------------------------------------------------------

export interface ProduceRecord {
  key: string;
  value: Buffer | string;
}

/**
 * A batch's records read by index: what the producer writes from its packed messages (packed-messages.ts), which
 * keep no object per record while a batch waits for its acknowledgement.
 */
export interface RecordSource {
  readonly length: number;
  keyAt(i: number): string;
  valueBytesAt(i: number): number;
  /** Writes record `i`'s value into `buf` at `at`; returns the bytes written. */
  writeValueAt(i: number, buf: Buffer, at: number): number;
}

/** Records given as an array of objects, read as a {@link RecordSource}. */
function sourceOf(records: readonly ProduceRecord[] | RecordSource): RecordSource {
  if (!Array.isArray(records)) return records as RecordSource;
  const list = records as readonly ProduceRecord[];
  return {
    length: list.length,
    keyAt: (i) => list[i]!.key,
    valueBytesAt: (i) => {
      const v = list[i]!.value;
      return typeof v === 'string' ? Buffer.byteLength(v) : v.length;
    },
    writeValueAt: (i, buf, at) => {
      const v = list[i]!.value;
      return typeof v === 'string' ? buf.write(v, at) : v.copy(buf, at);
    },
  };
}

/** Record batch compression codecs (attributes bits 0-2). Kafka also knows snappy (2) and lz4 (3). */
export const CODEC = { none: 0, gzip: 1, zstd: 4 } as const;

export interface PartitionBatch {
  partition: number;
  records: readonly ProduceRecord[] | RecordSource;
  /** Sequence number of the first record (idempotent producer), -1 without one. */
  baseSequence: number;
  /**
   * The records section already encoded ({@link encodeRecords}) and compressed with `codec`; the batch header still
   * counts `records`. Absent: the records are written uncompressed straight into the request.
   */
  compressed?: { codec: number; bytes: Buffer };
}

export interface ProduceRequest {
  acks: number;
  timeoutMs: number;
  producerId: bigint;
  producerEpoch: number;
  /** CreateTime of every record (ms since the epoch). */
  timestamp: number;
  topics: readonly { name: string; partitions: readonly PartitionBatch[] }[];
}

/** Record batch header: base offset … record count (61 bytes); the CRC covers everything from `attributes` on. */
const BATCH_HEADER = 61;
const CRC_OFFSET = 17;
const ATTRIBUTES_OFFSET = 21;

/**
 * Bytes of the records section of a batch. `sizes` receives, per record, the key's, the value's and the record
 * body's byte counts (the write pass needs them and must not measure strings twice).
 */
function measureRecords(records: RecordSource, sizes: number[]): number {
  let total = 0;
  for (let i = 0; i < records.length; i += 1) {
    const k = Buffer.byteLength(records.keyAt(i));
    const v = records.valueBytesAt(i);
    // attributes (1) + timestamp delta 0 (1) + offset delta + key + value + header count 0 (1)
    const body = 3 + varintSize(i) + varintSize(k) + k + varintSize(v) + v;
    sizes.push(k, v, body);
    total += varintSize(body) + body;
  }
  return total;
}

/** Writes the records section at `o` with the sizes {@link measureRecords} left at `sizes[sizeAt…]`; returns the end. */
function writeRecords(buf: Buffer, o: number, records: RecordSource, sizes: readonly number[], sizeAt: number): number {
  for (let i = 0, s = sizeAt; i < records.length; i += 1, s += 3) {
    o = writeVarint(buf, o, sizes[s + 2]!);
    buf[o++] = 0; // attributes
    buf[o++] = 0; // timestamp delta (zigzag 0)
    o = writeVarint(buf, o, i); // offset delta
    o = writeVarint(buf, o, sizes[s]!);
    o += buf.write(records.keyAt(i), o);
    o = writeVarint(buf, o, sizes[s + 1]!);
    o += records.writeValueAt(i, buf, o);
    buf[o++] = 0; // header count
  }
  return o;
}

/** The records section of a batch on its own, to be compressed (the input of {@link PartitionBatch.compressed}). */
export function encodeRecords(list: readonly ProduceRecord[] | RecordSource): Buffer {
  const records = sourceOf(list);
  const sizes: number[] = [];
  const buf = Buffer.allocUnsafe(measureRecords(records, sizes));
  const end = writeRecords(buf, 0, records, sizes, 0);
  if (end !== buf.length) throw new Error(`records wrote ${end} bytes, measured ${buf.length}`);
  return buf;
}

function writeBatch(
  buf: Buffer,
  start: number,
  batch: PartitionBatch,
  sizes: readonly number[],
  sizeAt: number,
  request: ProduceRequest,
  end: number,
): void {
  const { compressed } = batch;
  const records = sourceOf(batch.records);
  buf.writeBigInt64BE(0n, start); // base offset: the broker assigns offsets
  buf.writeInt32BE(end - start - 12, start + 8); // batch length: bytes after this field
  buf.writeInt32BE(-1, start + 12); // partition leader epoch: set by the broker
  buf.writeInt8(2, start + 16); // magic
  // compression codec, CreateTime, not transactional
  buf.writeInt16BE(compressed?.codec ?? CODEC.none, start + ATTRIBUTES_OFFSET);
  buf.writeInt32BE(records.length - 1, start + 23); // last offset delta
  const ts = BigInt(request.timestamp);
  buf.writeBigInt64BE(ts, start + 27); // base timestamp
  buf.writeBigInt64BE(ts, start + 35); // max timestamp
  buf.writeBigInt64BE(request.producerId, start + 43);
  buf.writeInt16BE(request.producerEpoch, start + 51);
  buf.writeInt32BE(batch.baseSequence, start + 53);
  buf.writeInt32BE(records.length, start + 57);
  const o = compressed
    ? start + BATCH_HEADER + compressed.bytes.copy(buf, start + BATCH_HEADER)
    : writeRecords(buf, start + BATCH_HEADER, records, sizes, sizeAt);
  if (o !== end) throw new Error(`record batch wrote ${o - start} bytes, measured ${end - start}`);
  buf.writeUInt32BE(crc32c(buf, start + ATTRIBUTES_OFFSET, end), start + CRC_OFFSET);
}

/** Writes a Produce v7 body, each partition's records as one record batch (magic 2). */
export function writeProduce(w: Writer, request: ProduceRequest): void {
  const sizes: number[] = [];
  const batchBytes: number[] = [];
  let total = 2 + 2 + 4 + 4;
  for (const topic of request.topics) {
    total += 2 + Buffer.byteLength(topic.name) + 4;
    for (const p of topic.partitions) {
      const n = BATCH_HEADER + (p.compressed ? p.compressed.bytes.length : measureRecords(sourceOf(p.records), sizes));
      batchBytes.push(n);
      total += 4 + 4 + n;
    }
  }
  w.ensure(total);
  w.string(null).int16(request.acks).int32(request.timeoutMs);
  let b = 0;
  let s = 0;
  w.array(request.topics, (x, topic) => {
    x.string(topic.name);
    x.array(topic.partitions, (y, p) => {
      const n = batchBytes[b++]!;
      y.int32(p.partition).int32(n);
      writeBatch(y.buf, y.offset, p, sizes, s, request, y.offset + n);
      y.offset += n;
      if (!p.compressed) s += p.records.length * 3;
    });
  });
}

export interface PartitionResult {
  topic: string;
  partition: number;
  errorCode: number;
  baseOffset: bigint;
}

export function readProduce(r: Reader): { results: PartitionResult[]; throttleTimeMs: number } {
  const results: PartitionResult[] = [];
  r.array((x) => {
    const topic = x.string() ?? '';
    x.array((p) => {
      const partition = p.int32();
      const errorCode = p.int16();
      const baseOffset = p.int64();
      p.int64(); // log_append_time_ms
      p.int64(); // log_start_offset
      results.push({ topic, partition, errorCode, baseOffset });
    });
  });
  return { results, throttleTimeMs: r.int32() };
}
