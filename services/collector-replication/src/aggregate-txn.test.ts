import { describe, expect, it } from 'vitest';
import { ChangeTxnEvent } from '@vigie/contract';
import { createTxnAggregator } from './aggregate-txn.js';
import { parseLsn } from './lsn.js';

const options = { cluster: 'c1', messagePrefix: 'vigie', maxMessages: 2, maxMessageChars: 10, scanPersonalData: true };
const citizens = { schema: 'public', name: 'citizens' };
const claims = { schema: 'social', name: 'benefit_claims' };
// 2026-11-26T07:40:36.210Z in microseconds since the Unix epoch.
const t0 = 1795678836210000n;

describe('createTxnAggregator', () => {
  it('counts per table and operation and emits a valid change.txn keyed by the commit LSN', () => {
    const agg = createTxnAggregator(options);
    agg.begin(-2, '00000001/00A0B0C0', t0);
    expect(agg.open).toBe(true);
    agg.change('insert', citizens, { nir: '269054958815780' });
    agg.change('insert', citizens, { nir: 'none' });
    agg.change('update', claims, null);
    agg.change('delete', claims, { nir: '269054958815780' });
    agg.truncate([citizens, undefined]);
    expect(agg.message('vigie.bastion', new TextEncoder().encode('operator=alice ticket=OPS-123'), true)).toBe(true);
    expect(agg.message('other', new TextEncoder().encode('x'), true)).toBe(false);
    expect(agg.message('vigie', new TextEncoder().encode('y'), false)).toBe(false);
    const done = agg.commit('00000001/00A0B100', '1/A0B100');
    expect(agg.open).toBe(false);
    expect(ChangeTxnEvent.safeParse(done.event).success).toBe(true);
    expect(done.ackLsn).toBe(parseLsn('1/A0B100'));
    expect(done.event).toMatchObject({
      id: 'c1:txn:1/A0B0C0',
      xid: 4294967294,
      commitLsn: '1/A0B0C0',
      commitTime: '2026-11-26T07:40:36.210Z',
      totalRows: 4,
      tables: [
        { table: 'public.citizens', insert: 2, update: 0, delete: 0, truncate: 1 },
        { table: 'social.benefit_claims', insert: 0, update: 1, delete: 1, truncate: 0 },
      ],
      messages: [{ prefix: 'vigie.bastion', content: 'operator=a', transactional: true }],
      // The deleted row image is not scanned: it was not written.
      personalData: [{ table: 'public.citizens', column: 'nir', type: 'nir', count: 1 }],
    });
    expect(done.personalDataValues).toBe(1);
  });

  it('caps annotations and omits personalData when scanning is off', () => {
    const agg = createTxnAggregator({ ...options, scanPersonalData: false });
    agg.begin(7, '0/10', t0);
    for (let i = 0; i < 5; i += 1) agg.message('vigie', new Uint8Array([65]), true);
    agg.change('insert', citizens, { nir: '269054958815780' });
    const { event } = agg.commit('0/20', '0/20');
    expect(event.messages).toHaveLength(2);
    expect(event.personalData).toBeUndefined();
  });

  it('forgets a half-received transaction on reset', () => {
    const agg = createTxnAggregator(options);
    agg.begin(1, '0/10', t0);
    agg.reset();
    expect(agg.open).toBe(false);
    expect(() => agg.commit('0/20', '0/20')).toThrow();
  });
});
