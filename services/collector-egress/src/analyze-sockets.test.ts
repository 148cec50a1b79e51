import { describe, expect, it } from 'vitest';
import { EgressSampleEvent, type SessionInfo } from '@vigie/contract';
import { createSocketTracker, type SessionLookup } from './analyze-sockets.js';
import type { SsSocket } from './parse-ss.js';
import { createSessionCache } from './source-pg-activity.js';
import type { ActivityRow } from './session-row.js';

const PORT = 55432;
const T0 = Date.parse('2026-11-26T07:40:36.000Z');
const at = (ms: number) => new Date(T0 + ms);

function sock(peerPort: number, bytesSent: number, peerAddr = '127.0.0.3'): SsSocket {
  return {
    state: undefined,
    local: { addr: '127.0.0.1', port: PORT },
    peer: { addr: peerAddr, port: peerPort },
    bytesSent,
    bytesAcked: bytesSent,
    bytesReceived: 100,
  };
}

function row(pid: number, clientPort: number, clientAddr: string | null = '127.0.0.3'): ActivityRow {
  return {
    pid,
    backendStartEpoch: 1795678836.25,
    user: 'contractor_bob',
    database: 'app',
    clientAddr,
    clientPort,
    applicationName: 'psql',
    backendType: 'client backend',
  };
}

function setup(rows: ActivityRow[] = []) {
  const cache = createSessionCache(60_000);
  cache.update(rows, T0);
  const tracker = createSocketTracker({ cluster: 'local', serverPort: PORT, sessions: cache });
  return { cache, tracker };
}

describe('socket tracker', () => {
  it('emits deltas per session keyed by the server log session id, and a final sample at close', () => {
    const { tracker } = setup([row(0x1a57, 40001)]);
    const first = tracker.observeSample([sock(40001, 1000)], at(0));
    expect(first.events).toHaveLength(1);
    const e1 = first.events[0]!;
    expect(e1.key).toBe('local/6b07e274.1a57');
    expect(e1.event).toMatchObject({
      session: { id: '6b07e274.1a57', pid: 0x1a57, clientAddr: '127.0.0.3', clientPort: 40001, user: 'contractor_bob' },
      bytesSent: 1000,
      bytesSentDelta: 1000,
      final: false,
      transport: 'tcp',
      peer: { addr: '127.0.0.3', port: 40001 },
    });
    expect(EgressSampleEvent.safeParse(e1.event).success).toBe(true);

    // No new bytes, no event.
    expect(tracker.observeSample([sock(40001, 1000)], at(1000)).events).toEqual([]);
    const second = tracker.observeSample([sock(40001, 5000)], at(2000));
    expect(second.events.map((e) => [e.event.bytesSent, e.event.bytesSentDelta])).toEqual([[5000, 4000]]);

    const closed = tracker.observeClose({ ...sock(40001, 7500), state: 'UNCONN' }, at(2500));
    expect(closed.events.map((e) => [e.event.bytesSent, e.event.bytesSentDelta, e.event.final])).toEqual([
      [7500, 2500, true],
    ]);
    expect(closed.events[0]!.event.id).toBe('local:6b07e274.1a57:egress:7500:final');
    expect(tracker.size).toBe(0);
  });

  it('counts a connection shorter than one sample from its close event, joined by client end', () => {
    const { cache, tracker } = setup();
    // The activity poll saw the session; no ss sample ever did; the session has already left pg_stat_activity.
    cache.update([row(0x2000, 40002)], T0 + 100);
    cache.update([], T0 + 400);
    const r = tracker.observeClose(sock(40002, 123_456, '::ffff:127.0.0.3'), at(500));
    expect(r.joinFailures).toEqual([]);
    expect(r.events.map((e) => [e.key, e.event.bytesSent, e.event.bytesSentDelta, e.event.final])).toEqual([
      ['local/6b07e274.2000', 123_456, 123_456, true],
    ]);
  });

  it('still reports an unjoinable close, keyed by client address, and counts the failure', () => {
    const { tracker } = setup();
    const r = tracker.observeClose(sock(40003, 900), at(0));
    expect(r.joinFailures).toEqual(['closed_unseen']);
    expect(r.events).toHaveLength(1);
    const e = r.events[0]!;
    expect(e.key).toBe('local/egress/127.0.0.3');
    expect(e.event.session).toBeUndefined();
    expect(e.event).toMatchObject({ bytesSent: 900, bytesSentDelta: 900, final: true, peer: { port: 40003 } });
    expect(EgressSampleEvent.safeParse(e.event).success).toBe(true);
  });

  it('holds bytes of a socket whose session is not known yet, and emits them once it is', () => {
    const { cache, tracker } = setup();
    const r1 = tracker.observeSample([sock(40004, 2000)], at(0));
    expect(r1.events).toEqual([]);
    expect(r1.joinFailures).toEqual(['no_session']);
    // The failure is counted once per socket, not once per round.
    expect(tracker.observeSample([sock(40004, 2500)], at(1000)).joinFailures).toEqual([]);
    cache.update([row(0x3000, 40004)], T0 + 1500);
    const r3 = tracker.observeSample([sock(40004, 3000)], at(2000));
    expect(r3.events.map((e) => [e.event.bytesSent, e.event.bytesSentDelta])).toEqual([[3000, 3000]]);
  });

  it('joins by client end only: a session at another port of the same address is not this socket', () => {
    const { tracker } = setup([row(0x4000, 50000)]);
    const r = tracker.observeSample([sock(40006, 10)], at(0));
    expect(r.events).toEqual([]);
    expect(r.joinFailures).toEqual(['no_session']);
  });

  it('ignores a sample taken before a close that was processed first', () => {
    const { tracker } = setup([row(0x5000, 40007)]);
    const startedAt = T0;
    tracker.observeClose(sock(40007, 800), at(10));
    const late = tracker.observeSample([sock(40007, 700)], at(0), startedAt);
    expect(late.events).toEqual([]);
    expect(tracker.size).toBe(0);
  });

  it('ignores a close of an earlier connection on the same client end', () => {
    const { tracker } = setup([row(0x6000, 40008)]);
    tracker.observeSample([sock(40008, 5000)], at(0));
    expect(tracker.observeClose(sock(40008, 100), at(10)).events).toEqual([]);
    expect(tracker.size).toBe(1);
  });

  it('closes a socket that vanished without a close event after three rounds, from its last counters', () => {
    const { tracker } = setup([row(0x7000, 40009)]);
    tracker.observeSample([sock(40009, 5000)], at(0));
    expect(tracker.observeSample([], at(1000)).events).toEqual([]);
    expect(tracker.observeSample([], at(2000)).events).toEqual([]);
    const r = tracker.observeSample([], at(3000));
    expect(r.closesMissed).toBe(1);
    expect(r.events.map((e) => [e.event.bytesSent, e.event.bytesSentDelta, e.event.final])).toEqual([[5000, 0, true]]);
  });

  it('finishes the old connection when its client end is reused by another backend', () => {
    let current = 0x10;
    const lookup: SessionLookup = {
      byPeer: () => ({ id: `6b07e274.${current.toString(16)}`, pid: current, clientPort: 40010 }) as SessionInfo,
    };
    const tracker = createSocketTracker({ cluster: 'local', serverPort: PORT, sessions: lookup });
    tracker.observeSample([sock(40010, 5000)], at(0));
    // The new connection's counter restarted below the old one's.
    current = 0x11;
    const r = tracker.observeSample([sock(40010, 300)], at(1000));
    expect(r.events.map((e) => [e.key, e.event.bytesSent, e.event.final])).toEqual([
      ['local/6b07e274.10', 5000, true],
      ['local/6b07e274.11', 300, false],
    ]);
    // Its counter already passed the old one's, but pg_stat_activity has another session at that client end.
    current = 0x12;
    const r2 = tracker.observeSample([sock(40010, 9000)], at(2000));
    expect(r2.events.map((e) => [e.key, e.event.bytesSent, e.event.final])).toEqual([
      ['local/6b07e274.11', 300, true],
      ['local/6b07e274.12', 9000, false],
    ]);
  });

  it('ignores sockets of other ports and listeners', () => {
    const { tracker } = setup();
    const other = { ...sock(40011, 10), local: { addr: '127.0.0.1', port: 19092 } };
    const listener = { ...sock(40012, 10), peer: { addr: '0.0.0.0', port: undefined } };
    expect(tracker.observeSample([other, listener], at(0))).toEqual({ events: [], joinFailures: [], closesMissed: 0 });
    expect(tracker.observeClose(other, at(0)).events).toEqual([]);
  });
});
