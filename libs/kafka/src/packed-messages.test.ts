import { describe, expect, it } from 'vitest';
import { PackedMessages } from './packed-messages.js';

/** Two values that are views into one shared buffer (as the outbox's arena hands them out), and a text. */
function sample() {
  const memory = Buffer.from('{"a":1}{"bb":22}');
  const first = memory.subarray(0, 7);
  const second = memory.subarray(7);
  const packed = new PackedMessages([
    { topic: 't', key: 'c/1', value: first },
    { topic: 'u', key: 'c/é', value: second },
    { topic: 't', key: 'c/1', value: '{"ü":3}' },
  ]);
  return { memory, first, second, packed };
}

describe('PackedMessages', () => {
  it('keeps topics, keys and value sizes in order; sizes count UTF-8 bytes of keys and texts', () => {
    const { packed } = sample();
    expect(packed.length).toBe(3);
    expect(packed.topics).toEqual(['t', 'u', 't']);
    expect(packed.keys).toEqual(['c/1', 'c/é', 'c/1']);
    expect(packed.valueBytes).toEqual([7, 9, 8]);
    expect([0, 1, 2].map((i) => packed.size(i))).toEqual([10, 13, 11]);
  });

  it('writes each value as given, from the memory it lies in or from its text', () => {
    const { packed } = sample();
    const out = Buffer.alloc(25);
    let at = 0;
    for (let i = 0; i < packed.length; i += 1) at += packed.writeValue(i, out, at);
    expect(out.subarray(0, at).toString()).toBe('{"a":1}{"bb":22}{"ü":3}');
  });

  it('hands a message back as a view of the same bytes, which finds its index like the original value', () => {
    const { packed, memory, first, second } = sample();
    const back = packed.message(1);
    expect(back).toEqual({ topic: 'u', key: 'c/é', value: second });
    expect((back.value as Buffer).buffer).toBe(memory.buffer);
    expect(packed.indexOfValue(back.value)).toBe(1);
    expect(packed.indexOfValue(first)).toBe(0);
    expect(packed.indexOfValue('{"ü":3}')).toBe(2);
    expect(packed.indexOfValue(Buffer.from('{"a":1}'))).toBe(-1); // equal bytes elsewhere: another message
    expect(packed.messages().map((m) => String(m.value))).toEqual(['{"a":1}', '{"bb":22}', '{"ü":3}']);
  });

  it('keeps a partition key apart from the key, and hands it back with the message', () => {
    const packed = new PackedMessages([
      { topic: 't', key: 'c/1', value: 'x', partitionKey: 'c' },
      { topic: 't', key: 'c/2', value: 'y' },
    ]);
    expect(packed.partitionKeys).toEqual(['c', undefined]);
    expect(packed.shift(1).message(0)).toEqual({ topic: 't', key: 'c/1', value: 'x', partitionKey: 'c' });
    expect(packed.message(0)).toEqual({ topic: 't', key: 'c/2', value: 'y' });
  });

  it('shift(n) takes the first n messages and keeps the rest, in order', () => {
    const { packed } = sample();
    const head = packed.shift(2);
    expect(head.keys).toEqual(['c/1', 'c/é']);
    expect(head.messages().map((m) => String(m.value))).toEqual(['{"a":1}', '{"bb":22}']);
    expect(packed.length).toBe(1);
    expect(String(packed.message(0).value)).toBe('{"ü":3}');
  });

  it('reads the records of chosen messages in the order given', () => {
    const { packed } = sample();
    const records = packed.records([2, 0]);
    const out = Buffer.alloc(15);
    const n = records.writeValueAt(0, out, 0);
    records.writeValueAt(1, out, n);
    expect([records.length, records.keyAt(0), records.valueBytesAt(1), out.toString()]).toEqual([
      2,
      'c/1',
      7,
      '{"ü":3}{"a":1}',
    ]);
  });
});
