import { describe, expect, it } from 'vitest';
import { deliveredBytes, parseEndpoint, parseSsLine, peerKey } from './parse-ss.js';

// Captured on Debian 12 (iproute2 6.1) against the local stack's PostgreSQL 15 on port 55432.
const SAMPLE_V4 =
  '0      0      127.0.0.1:55432 127.0.0.1:45056 users:(("postgres",pid=14567,fd=9)) bbr wscale:10,10 rto:204 ' +
  'rtt:0.617/0.862 ato:40 mss:32768 pmtu:65535 rcvmss:536 advmss:65483 cwnd:14 bytes_sent:580 bytes_acked:580 ' +
  'bytes_received:275 segs_out:6 segs_in:8 data_segs_out:4 data_segs_in:5 bbr:(bw:20164921872bps,mrtt:0.013,' +
  'pacing_gain:2.88672,cwnd_gain:2.88672) send 5948162075bps lastsnd:904 lastrcv:904 lastack:904 pacing_rate ' +
  '416204775192bps delivery_rate 20164923072bps delivered:5 app_limited busy:8ms rcv_space:65483 ' +
  'rcv_ssthresh:65483 minrtt:0.013 snd_wnd:65536';
const CLOSE_V4 =
  'UNCONN 0      0               127.0.0.1:55432          127.0.0.1:44174 wscale:10,10 rto:204 rtt:0.584/1.041 ' +
  'ato:40 mss:32768 pmtu:65535 rcvmss:536 advmss:65483 cwnd:16 bytes_sent:646 bytes_acked:647 ' +
  'bytes_received:247 segs_out:7 segs_in:11 data_segs_out:5 data_segs_in:6 send 7182027397bps lastsnd:4 ' +
  'lastrcv:4 pacing_rate 440687409024bps delivery_rate 10485760000bps delivered:7 busy:4ms rcv_space:65';
const CLOSE_V6_NO_SENT =
  'UNCONN 1      0      [::ffff:127.0.0.1]:19092 [::ffff:127.0.0.1]:57536 wscale:10,1 rto:204 rtt:0.023/0.014 ' +
  'mss:32768 pmtu:65535 rcvmss:536 advmss:65483 cwnd:11 bytes_acked:1 bytes_received:1 segs_out:4';
const LISTENER_CLOSE =
  'UNCONN 0      0               127.0.0.1:35983            0.0.0.0:*     rto:1000 mss:536 cwnd:10 lastsnd:317800';

describe('parseSsLine', () => {
  it('reads a sampled socket: ends and counters (an owner column, if any, is ignored)', () => {
    const r = parseSsLine(SAMPLE_V4);
    expect(r).toEqual({
      ok: true,
      socket: {
        state: undefined,
        local: { addr: '127.0.0.1', port: 55432 },
        peer: { addr: '127.0.0.1', port: 45056 },
        bytesSent: 580,
        bytesAcked: 580,
        bytesReceived: 275,
      },
    });
  });

  it('reads a close event, which has a state column and no owner', () => {
    const r = parseSsLine(CLOSE_V4);
    expect(r.ok && r.socket).toMatchObject({
      state: 'UNCONN',
      local: { addr: '127.0.0.1', port: 55432 },
      peer: { addr: '127.0.0.1', port: 44174 },
      bytesSent: 646,
      bytesReceived: 247,
    });
  });

  it('reads bracketed IPv6 ends and takes a missing bytes_sent as 0 (ss hides zero counters)', () => {
    const r = parseSsLine(CLOSE_V6_NO_SENT);
    expect(r.ok && r.socket).toMatchObject({
      local: { addr: '::ffff:127.0.0.1', port: 19092 },
      peer: { addr: '::ffff:127.0.0.1', port: 57536 },
      bytesSent: 0,
      bytesAcked: 1,
    });
    const v6 = parseSsLine(
      '0 0 [::1]:55432 [::1]:51000 users:(("postgres",pid=7,fd=9)) bytes_sent:12 bytes_retrans:3 bytes_received:4',
    );
    expect(v6.ok && v6.socket).toMatchObject({ local: { addr: '::1' }, peer: { port: 51000 }, bytesSent: 12 });
  });

  it('gives a wildcard peer no port', () => {
    const r = parseSsLine(LISTENER_CLOSE);
    expect(r.ok && r.socket.peer).toEqual({ addr: '0.0.0.0', port: undefined });
  });

  it('refuses lines it cannot read, with a reason', () => {
    expect(parseSsLine('garbage')).toEqual({ ok: false, reason: 'too_few_fields' });
    expect(parseSsLine('0 0 nonsense other')).toEqual({ ok: false, reason: 'bad_endpoint' });
    expect(parseSsLine('0 0 1.2.3.4:99999 1.2.3.4:1')).toEqual({ ok: false, reason: 'bad_endpoint' });
  });
});

describe('parseEndpoint and peerKey', () => {
  it('strips interface scopes', () => {
    expect(parseEndpoint('[fe80::1%eth0]:5432')).toEqual({ addr: 'fe80::1', port: 5432 });
    expect(parseEndpoint('127.0.0.1%lo:55432')).toEqual({ addr: '127.0.0.1', port: 55432 });
  });
  it('treats an IPv4-mapped address as the IPv4 client it is', () => {
    expect(peerKey('::ffff:127.0.0.3', 4000)).toBe(peerKey('127.0.0.3', 4000));
    expect(peerKey('127.0.0.3', 4000)).not.toBe(peerKey('127.0.0.3', 4001));
  });
});

describe('deliveredBytes', () => {
  it('counts what the client acknowledged: retransmissions once, the FIN not at all', () => {
    expect(deliveredBytes({ bytesSent: 10_547_175, bytesAcked: 10_146_845 })).toBe(10_146_845);
    expect(deliveredBytes({ bytesSent: 646, bytesAcked: 647 })).toBe(646);
  });
});
