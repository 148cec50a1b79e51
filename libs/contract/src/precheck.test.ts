import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { examples } from '../test-support/examples.js';
import { decodeEvent, encodeEvent } from './codec.js';
import { VigieEvent } from './events.js';
import { precheckOf } from './precheck.js';

/** JSON text of a value, keys in their order: equal texts mean zod's output is the value as it stands. */
const text = (v: unknown) => JSON.stringify(v);

/**
 * The precheck's promise: when it says yes, zod accepts the value and returns one equal to it, keys in the same
 * order. (When it says no, zod decides: nothing to check.) Returns the precheck's answer.
 */
function expectSound(schema: z.ZodType, value: unknown): boolean {
  const yes = precheckOf(schema)(value);
  if (yes) {
    const parsed = schema.safeParse(value);
    expect(parsed.success, `precheck passed what zod refuses: ${text(value)}`).toBe(true);
    expect(text(parsed.data)).toBe(text(value));
    expect(parsed.data).toStrictEqual(value);
  }
  return yes;
}

/** What decodeEvent did before the precheck: quote a bare query id, JSON.parse, zod. */
function zodDecode(json: string): { success: boolean; data?: unknown; messages?: string[] } {
  let raw: unknown;
  try {
    raw = JSON.parse(json.replace(/"queryId":\s*(-?\d+)/g, '"queryId":"$1"'));
  } catch {
    return { success: false, messages: ['not valid JSON'] };
  }
  const parsed = VigieEvent.safeParse(raw);
  return { success: parsed.success, data: parsed.data, messages: parsed.error?.issues.map((i) => i.message) };
}

const encoded = Object.values(examples).map((e) => JSON.parse(encodeEvent(e).toString('utf8')) as unknown);

const REPLACEMENTS: unknown[] = [
  null,
  true,
  false,
  0,
  -1,
  1.5,
  2 ** 53,
  65_536,
  '',
  'x',
  'x'.repeat(70),
  'caf\u00e9\u0001',
  '-3357000809903621108',
  '9223372036854775808',
  '2026-11-26T07:40:36Z',
  '2026-02-30T07:40:36.000Z',
  '6b07e274.1be5',
  'SESSION',
  'READ',
  [],
  ['x'],
  [{}],
  {},
  { a: 1 },
];

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** Every value reachable by one change to `v`: a field removed, replaced, nudged, added or moved. */
function* mutations(v: Json): Generator<Json> {
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i += 1) {
      yield [...v.slice(0, i), ...v.slice(i + 1)];
      for (const m of mutations(v[i] as Json)) yield v.map((e, j) => (j === i ? m : e));
    }
    yield [...v, ...v.slice(0, 1)];
    return;
  }
  if (v !== null && typeof v === 'object') {
    const keys = Object.keys(v);
    for (const k of keys) {
      const { [k]: _gone, ...rest } = v;
      yield rest;
      // The same fields with this one last: zod would return them in the schema's order.
      yield { ...rest, [k]: v[k] as Json };
      for (const m of mutations(v[k] as Json)) yield { ...v, [k]: m };
    }
    yield { ...v, unknownField: 1 };
    return;
  }
  for (const r of REPLACEMENTS) if (r !== v) yield r as Json;
  if (typeof v === 'string') {
    yield `${v}x`;
    yield v.slice(0, -1);
    yield v.toUpperCase();
  }
  if (typeof v === 'number') {
    yield v + 1;
    yield -v - 1;
    yield v + 0.5;
  }
}

describe('the precompiled event check', () => {
  it('passes every kind of event as Vigie encodes it (the fast path is the common one)', () => {
    for (const e of encoded) expect(expectSound(VigieEvent, e), text(e)).toBe(true);
  });

  it('never passes what zod refuses or would return changed, over every one-field change of every kind', () => {
    let passed = 0;
    let refused = 0;
    for (const e of encoded) {
      for (const m of mutations(e as Json)) {
        if (expectSound(VigieEvent, m)) passed += 1;
        else refused += 1;
      }
    }
    // Both answers occur: a check that always said no (or yes) would not be tested by the loop above.
    expect(passed).toBeGreaterThan(500);
    expect(refused).toBeGreaterThan(5_000);
  });

  it('leaves zod to decide, so decodeEvent gives zod’s verdict, issues and value for every change', () => {
    for (const e of encoded.slice(0, 8)) {
      for (const m of mutations(e as Json)) {
        const decoded = decodeEvent(text(m));
        const expected = zodDecode(text(m));
        expect(decoded.ok).toBe(expected.success);
        if (decoded.ok) expect(text(decoded.value)).toBe(text(expected.data));
        else expect(decoded.error.issues.map((i) => i.message)).toEqual(expected.messages);
      }
    }
  });

  it('asks zod about anything JSON.parse cannot make or the schema may change', () => {
    const end = encoded.find((e) => (e as { kind: string }).kind === 'session.end') as Record<string, unknown>;
    const odd: unknown[] = [
      { ...end, durationMs: Number.NaN },
      { ...end, durationMs: Number.POSITIVE_INFINITY },
      Object.assign(Object.create({ inherited: 1 }) as object, end),
      Object.assign(new (class Event {})(), end),
      undefined,
      'session.end',
      [end],
    ];
    for (const v of odd) expect(expectSound(VigieEvent, v)).toBe(false);
  });
});

describe('precheckOf on the constructs it compiles', () => {
  it('takes a default only when the value is there (zod fills in an absent one)', () => {
    const s = z.object({ a: z.string(), b: z.enum(['x', 'y']).default('x') });
    expect(expectSound(s, { a: 'q', b: 'y' })).toBe(true);
    expect(expectSound(s, { a: 'q' })).toBe(false);
  });

  it('takes a refinement only when it answers true', () => {
    const s = z.string().refine((v) => (v === 'yes' ? true : v === 'truthy' ? 1 : false) as boolean);
    expect(expectSound(s, 'yes')).toBe(true);
    expect(expectSound(s, 'truthy')).toBe(false);
    expect(expectSound(s, 'no')).toBe(false);
  });

  it('checks bounds, integers and formats as zod does', () => {
    const s = z.object({
      n: z.number().int().min(0).max(10),
      p: z.number().positive(),
      s: z
        .string()
        .min(2)
        .max(3)
        .regex(/^[a-z]+$/),
      t: z.iso.datetime(),
      l: z.array(z.boolean()).min(1).max(2),
    });
    const ok = { n: 10, p: 0.5, s: 'ab', t: '2026-11-26T07:40:36.210Z', l: [true] };
    expect(expectSound(s, ok)).toBe(true);
    for (const [k, bad] of Object.entries({ n: 11, p: 0, s: 'abcd', t: '2026-11-26 07:40', l: [] })) {
      expect(expectSound(s, { ...ok, [k]: bad })).toBe(false);
    }
    expect(expectSound(s, { ...ok, n: 1.5 })).toBe(false);
    expect(expectSound(s, { ...ok, n: 2 ** 53 })).toBe(false);
    // A hole is an undefined element to zod.
    const holed: boolean[] = [true, false, false];
    delete holed[1];
    expect(expectSound(z.array(z.boolean()), holed)).toBe(false);
  });

  it('leaves to zod what it does not compile: strict objects, transforms, plain unions, object refinements', () => {
    const unknown = [
      z.object({ a: z.string() }).strict(),
      z.object({ a: z.string() }).loose(),
      z.object({ a: z.string().transform((v) => v.trim()) }),
      z.object({ a: z.union([z.string(), z.number()]) }),
      z.object({ a: z.string() }).refine(() => true),
      z.object({ a: z.coerce.string() }),
      z.object({ a: z.string().email() }),
    ];
    for (const s of unknown) expect(expectSound(s, { a: 'x' })).toBe(false);
  });
});
