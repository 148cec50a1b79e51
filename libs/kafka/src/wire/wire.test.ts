import { createRequire } from 'node:module';
import { Partitioners } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { Reader, Writer, readVarint, varintSize, writeVarint } from './codec.js';
import { crc32c, partitionForKey } from './hash.js';
import { readProduce, writeProduce, type ProduceRequest } from './protocol.js';

// kafkajs's own record-batch decoder, an independent implementation of the format, reads what we write.
const require = createRequire(import.meta.url);
const KafkajsDecoder = require('kafkajs/src/protocol/decoder') as new (buf: Buffer) => KafkajsReader;
const decodeRecordBatch = require('kafkajs/src/protocol/recordBatch/v0/decoder') as (d: KafkajsReader) => Promise<{
  producerId: string;
  producerEpoch: number;
  firstSequence: number;
  lastOffsetDelta: number;
  firstTimestamp: string;
  records: { key: Buffer; value: Buffer; offset: string; timestamp: string; headers: object }[];
}>;
interface KafkajsReader {
  readInt16(): number;
  readInt32(): number;
  readString(): string;
  readBytes(): Buffer;
}

describe('varints', () => {
  it('round-trips the zigzag boundaries with the size it announces', () => {
    const values = [0, -1, 1, 63, -64, 64, -65, 8191, 8192, -8193, 1048575, 1048576, 2 ** 27, 2 ** 31 - 1, -(2 ** 31)];
    const buf = Buffer.alloc(5);
    for (const v of values) {
      const end = writeVarint(buf, 0, v);
      expect(end, `size of ${v}`).toBe(varintSize(v));
      expect(readVarint(buf, 0)).toEqual([v, end]);
    }
    // Known encodings (Protocol Buffers' zigzag): 0 → 00, -1 → 01, 1 → 02, 64 → 80 01.
    expect([0, -1, 1, 64].map((v) => buf.subarray(0, writeVarint(buf, 0, v)).toString('hex'))).toEqual([
      '00',
      '01',
      '02',
      '8001',
    ]);
  });
});

describe('Writer and Reader', () => {
  it('write and read the primitive types, growing past the initial capacity', () => {
    const w = new Writer(4);
    w.int8(-2).int16(-300).int32(70_000).int64(-5n).bool(true).string('héllo').string(null);
    w.array(['a', 'bb'], (x, s) => x.string(s)).array(null, () => undefined);
    const r = new Reader(w.finish());
    expect([r.int8(), r.int16(), r.int32(), r.int64(), r.bool(), r.string(), r.string()]).toEqual([
      -2,
      -300,
      70_000,
      -5n,
      true,
      'héllo',
      null,
    ]);
    expect(r.array((x) => x.string())).toEqual(['a', 'bb']);
    expect(r.int32()).toBe(-1);
    expect(r.remaining).toBe(0);
    expect(() => r.int8()).toThrow(/1 more needed/);
  });
});

describe('crc32c', () => {
  it('matches the standard check value and any split of the input', () => {
    expect(crc32c(Buffer.from('123456789'))).toBe(0xe3069283);
    expect(crc32c(Buffer.alloc(32))).toBe(0x8a9136aa); // RFC 3720 B.4: 32 bytes of zeros
    const text = Buffer.from('The quick brown fox jumps over the lazy dog, 0123456789 times.');
    const framed = Buffer.concat([Buffer.from('xyz'), text, Buffer.from('!')]);
    expect(crc32c(framed, 3, 3 + text.length)).toBe(crc32c(text));
  });
});

describe('partitionForKey', () => {
  it('gives the partition kafkajs (and the Java client) give, for any key and partition count', () => {
    const kafkajs = Partitioners.DefaultPartitioner();
    const keys = [
      '',
      'a',
      'ab',
      'abc',
      'abcd',
      'local/6b07ec8f.1a2',
      'prod/élève-ü-日本',
      ...Array.from({ length: 300 }, (_, i) => `cluster-${i % 7}/65f1${(i * 7919).toString(16)}.${i}`),
    ];
    for (const count of [1, 2, 3, 4, 7, 12]) {
      const partitionMetadata = Array.from({ length: count }, (_, partitionId) => ({
        partitionId,
        leader: 1,
        partitionErrorCode: 0,
        replicas: [1],
        isr: [1],
      }));
      for (const key of keys) {
        const expected = kafkajs({ topic: 't', partitionMetadata, message: { key, value: '' } });
        expect(partitionForKey(key, count), `${key} over ${count}`).toBe(expected);
      }
    }
  });
});

describe('writeProduce', () => {
  it('writes a Produce v7 body whose record batches kafkajs decodes, checksum included', async () => {
    const big = 'é'.repeat(200) + '"\n';
    const request: ProduceRequest = {
      acks: -1,
      timeoutMs: 30_000,
      producerId: 4242n,
      producerEpoch: 3,
      timestamp: 1_764_000_000_123,
      topics: [
        {
          name: 'vigie.activity.v1',
          partitions: [
            {
              partition: 2,
              baseSequence: 17,
              records: [
                { key: 'c/s1', value: '{"a":1}' },
                { key: 'c/s1', value: Buffer.from(big) },
                { key: 'c/日本', value: '' },
              ],
            },
            { partition: 0, baseSequence: 0, records: [{ key: 'c/s2', value: 'x'.repeat(300) }] },
          ],
        },
        { name: 't2', partitions: [{ partition: 5, baseSequence: 2 ** 31 - 1, records: [{ key: 'k', value: 'v' }] }] },
      ],
    };
    const w = new Writer(8);
    writeProduce(w, request);
    const d = new KafkajsDecoder(w.finish());
    expect(d.readInt16()).toBe(-1); // no transactional id
    expect([d.readInt16(), d.readInt32()]).toEqual([-1, 30_000]);
    const seen: unknown[] = [];
    const topics = d.readInt32();
    for (let t = 0; t < topics; t += 1) {
      const name = d.readString();
      const partitions = d.readInt32();
      for (let p = 0; p < partitions; p += 1) {
        const partition = d.readInt32();
        const bytes = d.readBytes();
        // Bytes 17..20 hold the CRC-32C of everything from byte 21 on.
        expect(bytes.readUInt32BE(17)).toBe(crc32c(bytes, 21));
        const batch = await decodeRecordBatch(new KafkajsDecoder(bytes));
        seen.push({
          name,
          partition,
          producer: [batch.producerId, batch.producerEpoch, batch.firstSequence],
          lastOffsetDelta: batch.lastOffsetDelta,
          records: batch.records.map((r) => [r.offset, r.timestamp, r.key.toString(), r.value.toString(), r.headers]),
        });
      }
    }
    const ts = String(request.timestamp);
    expect(seen).toEqual([
      {
        name: 'vigie.activity.v1',
        partition: 2,
        producer: ['4242', 3, 17],
        lastOffsetDelta: 2,
        records: [
          ['0', ts, 'c/s1', '{"a":1}', {}],
          ['1', ts, 'c/s1', big, {}],
          ['2', ts, 'c/日本', '', {}],
        ],
      },
      {
        name: 'vigie.activity.v1',
        partition: 0,
        producer: ['4242', 3, 0],
        lastOffsetDelta: 0,
        records: [['0', ts, 'c/s2', 'x'.repeat(300), {}]],
      },
      {
        name: 't2',
        partition: 5,
        producer: ['4242', 3, 2 ** 31 - 1],
        lastOffsetDelta: 0,
        records: [['0', ts, 'k', 'v', {}]],
      },
    ]);
  });
});

describe('readProduce', () => {
  it('reads each partition’s error code and base offset, and the throttle time', () => {
    const w = new Writer();
    w.array(['a', 'b'], (x, topic) =>
      x.string(topic).array([1, 2], (y, p) =>
        y
          .int32(p)
          .int16(topic === 'b' && p === 2 ? 6 : 0)
          .int64(BigInt(p * 100))
          .int64(-1n)
          .int64(0n),
      ),
    );
    w.int32(25); // throttle_time_ms
    const answer = readProduce(new Reader(w.finish()));
    expect(answer.throttleTimeMs).toBe(25);
    expect(answer.results.map((r) => [r.topic, r.partition, r.errorCode, r.baseOffset])).toEqual([
      ['a', 1, 0, 100n],
      ['a', 2, 0, 200n],
      ['b', 1, 0, 100n],
      ['b', 2, 6, 200n],
    ]);
  });
});
