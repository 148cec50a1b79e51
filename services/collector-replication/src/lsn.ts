/**
 * PostgreSQL log sequence numbers (`16/B374D848`) as bigints: comparing them as strings is wrong (`9/0` > `10/0`),
 * and a JS number loses precision past 2^53 bytes of WAL.
 */

/** Parses `X/Y` (hex halves) into a 64-bit position. Throws on anything else: LSNs come from the server. */
export function parseLsn(lsn: string): bigint {
  const slash = lsn.indexOf('/');
  if (slash <= 0 || slash === lsn.length - 1) throw new TypeError(`not an LSN: ${JSON.stringify(lsn)}`);
  const hi = lsn.slice(0, slash);
  const lo = lsn.slice(slash + 1);
  if (!/^[0-9a-fA-F]{1,8}$/.test(hi) || !/^[0-9a-fA-F]{1,8}$/.test(lo)) {
    throw new TypeError(`not an LSN: ${JSON.stringify(lsn)}`);
  }
  return (BigInt(`0x${hi}`) << 32n) | BigInt(`0x${lo}`);
}

/** Formats a position the way PostgreSQL prints it (upper-case hex, no padding). */
export function formatLsn(value: bigint): string {
  return `${(value >> 32n).toString(16).toUpperCase()}/${(value & 0xffffffffn).toString(16).toUpperCase()}`;
}

/** The larger of two positions. */
export function maxLsn(a: bigint, b: bigint): bigint {
  return a > b ? a : b;
}

/** Position as a float for a Prometheus gauge (exact up to 8 PiB of WAL, plenty for a byte counter). */
export function lsnToNumber(value: bigint): number {
  return Number(value);
}
