/** Small formatters shared by the evidence pages (pure; the pages escape what these return). */

/** `2026-11-26 07:40:36 UTC`; the input unchanged when it is not a date. */
export function formatTime(iso: string | undefined): string {
  if (iso === undefined) return '';
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) return iso;
  return `${new Date(ms).toISOString().replace('T', ' ').slice(0, 19)} UTC`;
}

/** `12.3 MiB (12 897 433 bytes)`; empty when unknown. */
export function formatBytes(bytes: number | undefined): string {
  if (bytes === undefined) return '';
  const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = bytes;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u += 1;
  }
  return u === 0 ? `${bytes} bytes` : `${v.toFixed(1)} ${units[u]} (${formatCount(bytes)} bytes)`;
}

/** `1 234 567`; empty when unknown. */
export function formatCount(n: number | undefined): string {
  return n === undefined ? '' : n.toLocaleString('en-US').replaceAll(',', ' ');
}
