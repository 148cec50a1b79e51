import { z } from 'zod';

const UNIT_MS = { s: 1000, m: 60_000, h: 60 * 60_000, d: 24 * 60 * 60_000 } as const;

/** Milliseconds of a duration written `<n>s|m|h|d` (`20s`, `15m`, `4h`, `7d`); undefined when it is not one. */
export function parseDuration(text: string): number | undefined {
  const m = /^(\d{1,6})(s|m|h|d)$/.exec(text.trim());
  if (m === null) return undefined;
  const ms = Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS];
  return ms > 0 ? ms : undefined;
}

/**
 * A positive duration in the policy (`4h`). Kept as written, so a parsed policy parses again to itself; read it with
 * {@link durationMs}.
 */
export const Duration = z
  .string()
  .refine((s) => parseDuration(s) !== undefined, 'a positive duration such as 20s, 15m, 4h or 7d');

/** Milliseconds of a duration the schema already validated. */
export function durationMs(text: string): number {
  return parseDuration(text) ?? 0;
}
