import { collectorHeartbeat, encodeEvent } from '@vigie/contract';
import { describe, expect, it } from 'vitest';
import { decodeMessage } from './decode.js';

describe('decodeMessage', () => {
  const heartbeat = collectorHeartbeat({
    cluster: 'local',
    collector: 'collector-pglog',
    instance: 'db1',
    at: new Date('2026-11-26T10:00:00Z'),
  });

  it('gives the event of a message the contract accepts', () => {
    const d = decodeMessage('activity', 1, { offset: '7', value: encodeEvent(heartbeat) }, 'local');
    expect(d.ok && d.event).toEqual(heartbeat);
  });

  it('turns an empty, a non-JSON and an invalid message into dead letters at their position', () => {
    const empty = decodeMessage('activity', 1, { offset: '8', value: null }, 'local');
    const garbage = decodeMessage('activity', 1, { offset: '9', value: Buffer.from('{oops') }, 'local');
    const invalid = decodeMessage('activity', 2, { offset: '10', value: Buffer.from('{"kind":"statement"}') }, 'c1');
    expect([empty, garbage, invalid].map((d) => !d.ok && [d.deadLetter.id, d.deadLetter.reason])).toEqual([
      ['detector:activity:1:8', 'undecodable'],
      ['detector:activity:1:9', 'undecodable'],
      ['detector:activity:2:10', 'invalid_event'],
    ]);
    expect(!invalid.ok && invalid.deadLetter).toMatchObject({
      cluster: 'c1',
      source: { file: 'kafka:activity/2', offset: 10 },
    });
  });
});
