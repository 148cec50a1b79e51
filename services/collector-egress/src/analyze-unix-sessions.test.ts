import { describe, expect, it } from 'vitest';
import { EgressSampleEvent } from '@vigie/contract';
import { createUnixSessionAnnouncer } from './analyze-unix-sessions.js';
import type { ActivityRow } from './session-row.js';

const unixRow: ActivityRow = {
  pid: 0x1a82,
  backendStartEpoch: 1795678830,
  user: 'postgres',
  database: 'template1',
  clientAddr: null,
  clientPort: -1,
  applicationName: 'psql',
  backendType: 'client backend',
};
const tcpRow: ActivityRow = { ...unixRow, pid: 9, clientAddr: '127.0.0.1', clientPort: 40000 };

describe('unix session announcer', () => {
  it('announces each Unix-socket session once as not measurable, and nothing for TCP sessions', () => {
    const a = createUnixSessionAnnouncer('local');
    const first = a.observe([unixRow, tcpRow], new Date('2026-11-26T07:40:31Z'));
    expect(first).toHaveLength(1);
    expect(first[0]!.key).toBe('local/6b07e26e.1a82');
    expect(first[0]!.event).toMatchObject({
      transport: 'unix',
      bytesSent: 0,
      final: false,
      session: { id: '6b07e26e.1a82', clientAddr: 'local' },
    });
    expect(first[0]!.event.session?.clientPort).toBeUndefined();
    expect(EgressSampleEvent.safeParse(first[0]!.event).success).toBe(true);
    expect(a.observe([unixRow], new Date())).toEqual([]);
  });
});
