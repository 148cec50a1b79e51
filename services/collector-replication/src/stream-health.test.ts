import { describe, expect, it } from 'vitest';
import { createStreamHealth } from './stream-health.js';

describe('createStreamHealth', () => {
  it('reports ok while connected, and the failure code (a SQLSTATE under the stream code) while not', () => {
    const stream = { connected: true, lastErrorCode: undefined as string | undefined };
    const health = createStreamHealth(stream);
    expect(health()).toMatchObject({ state: 'ok' });
    expect(health().error).toBeUndefined();
    stream.connected = false;
    stream.lastErrorCode = '42704';
    expect(health()).toMatchObject({ state: 'failing', error: 'VIGIE_REPLICATION_STREAM 42704' });
    stream.lastErrorCode = 'VIGIE_REPLICATION_SLOT_LOST';
    expect(health()).toMatchObject({ state: 'failing', error: 'VIGIE_REPLICATION_SLOT_LOST' });
    stream.lastErrorCode = undefined;
    expect(health()).toMatchObject({ state: 'failing', error: 'VIGIE_REPLICATION_STREAM' });
  });

  it('keeps `since` while neither the state nor the error changes', () => {
    const stream = { connected: false, lastErrorCode: '57P01' };
    const health = createStreamHealth(stream);
    const first = health();
    expect(health()).toBe(first);
    stream.connected = true;
    expect(health()).not.toBe(first);
  });
});
