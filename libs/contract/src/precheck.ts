import type { z } from 'zod';

/**
 * A quick yes-or-don't-know test of a decoded JSON value against a zod schema: true only when zod would accept the
 * value AND return one equal to it (same keys in the same order, nothing stripped, no default filled in), so the
 * caller may take the value as it is. False means "ask zod": zod gives the verdict and the issues, so a refusal is
 * always zod's own.
 *
 * Why: `safeParse` of every consumed event was the detector's largest cost after JSON.parse (a result object, an
 * issues array and a copy of every object and array per event). The test is compiled once per schema from the
 * schema's own definition, reusing its regexes and refinements; a construct it does not know (a transform, a strict
 * object, a plain union…) answers false for the values that reach it, so a schema change can make decoding slower,
 * never different.
 */
export type Precheck = (value: unknown) => boolean;

// zod v4's definition objects, as far as this file reads them.
interface CheckDef {
  check: string;
  minimum?: number;
  maximum?: number;
  value?: number;
  inclusive?: boolean;
  format?: string;
  pattern?: RegExp;
  fn?: (value: unknown) => unknown;
}
interface Def extends Partial<CheckDef> {
  type: string;
  checks?: { _zod: { def: CheckDef } }[];
  shape?: Record<string, Schema>;
  catchall?: Schema;
  element?: Schema;
  innerType?: Schema;
  options?: Schema[];
  discriminator?: string;
  values?: unknown[];
  entries?: Record<string, unknown>;
  coerce?: boolean;
}
interface Schema {
  _zod: { def: Def };
}

const NEVER: Precheck = () => false;
const defOf = (s: Schema): Def => s._zod.def;

/** The schema's refinements and bounds, in zod's order, over an already type-checked value; undefined: unknown. */
function checksOf(def: Def, kind: 'string' | 'number' | 'array' | 'none'): ((v: never) => boolean)[] | undefined {
  const out: ((v: never) => boolean)[] = [];
  // A schema that is itself a check (`z.iso.datetime()` is a string schema and its format check) runs it first.
  const defs = (def.checks ?? []).map((c) => c._zod.def);
  if (def.check !== undefined) defs.unshift(def as CheckDef);
  for (const d of defs) {
    if (d.check === 'custom' && typeof d.fn === 'function') {
      const fn = d.fn;
      // zod counts any truthy answer as a pass; only `true` is taken here (anything else: ask zod).
      out.push((v) => fn(v) === true);
    } else if ((kind === 'string' || kind === 'array') && d.check === 'min_length' && d.minimum !== undefined) {
      const min = d.minimum;
      out.push((v: { length: number }) => v.length >= min);
    } else if ((kind === 'string' || kind === 'array') && d.check === 'max_length' && d.maximum !== undefined) {
      const max = d.maximum;
      out.push((v: { length: number }) => v.length <= max);
    } else if (
      kind === 'string' &&
      d.check === 'string_format' &&
      (d.format === 'regex' || d.format === 'datetime') &&
      d.pattern instanceof RegExp
    ) {
      const re = d.pattern;
      out.push((v: string) => {
        re.lastIndex = 0;
        return re.test(v);
      });
    } else if (kind === 'number' && d.check === 'number_format' && d.format === 'safeint') {
      out.push((v: number) => Number.isSafeInteger(v));
    } else if (kind === 'number' && d.check === 'greater_than' && typeof d.value === 'number') {
      const min = d.value;
      out.push(d.inclusive === true ? (v: number) => v >= min : (v: number) => v > min);
    } else if (kind === 'number' && d.check === 'less_than' && typeof d.value === 'number') {
      const max = d.value;
      out.push(d.inclusive === true ? (v: number) => v <= max : (v: number) => v < max);
    } else {
      return undefined;
    }
  }
  return out;
}

/** `base` then every check in order, stopping at the first that fails (zod runs refinements only on clean values). */
function withChecks(base: (v: unknown) => boolean, checks: ((v: never) => boolean)[]): Precheck {
  if (checks.length === 0) return base;
  return (v) => {
    if (!base(v)) return false;
    for (const c of checks) if (!c(v as never)) return false;
    return true;
  };
}

function compileObject(def: Def, compile: (s: Schema) => Precheck): Precheck {
  // A strict or passthrough object (catchall) and object-level refinements are zod's to judge.
  if (def.shape === undefined || def.catchall !== undefined || (def.checks?.length ?? 0) > 0) return NEVER;
  const keys = Object.keys(def.shape);
  const shape = def.shape;
  const checks = keys.map((k) => compile(shape[k] as Schema));
  // A key may be absent only when zod's output then lacks it too: `.optional()`, not `.default()`.
  const mayBeAbsent = keys.map((k) => defOf(shape[k] as Schema).type === 'optional');
  const n = keys.length;
  return (value) => {
    // zod returns a new plain object: the value is that object only if it is a plain one (as JSON.parse makes).
    if (typeof value !== 'object' || value === null || Object.getPrototypeOf(value) !== Object.prototype) return false;
    const o = value as Record<string, unknown>;
    // One pass over the value's keys, which must follow the shape's order (zod's output order): an unknown key
    // (zod strips it), a key out of order or a missing required key all mean "ask zod".
    let j = 0;
    for (const k in o) {
      while (j < n && keys[j] !== k) {
        if (!mayBeAbsent[j]) return false;
        j += 1;
      }
      if (j === n) return false;
      if (!(checks[j] as Precheck)(o[k])) return false;
      j += 1;
    }
    for (; j < n; j += 1) if (!mayBeAbsent[j]) return false;
    return true;
  };
}

function compileUnion(def: Def, compile: (s: Schema) => Precheck): Precheck {
  const disc = def.discriminator;
  if (disc === undefined || def.options === undefined || (def.checks?.length ?? 0) > 0) return NEVER;
  const byValue = new Map<unknown, Precheck>();
  for (const option of def.options) {
    const field = defOf(option).shape?.[disc];
    const values = field === undefined ? undefined : defOf(field).values;
    if (field === undefined || defOf(field).type !== 'literal' || values === undefined) return NEVER;
    const check = compile(option);
    for (const v of values) {
      // Two options for one value: zod's choice between them is not modelled here.
      if (byValue.has(v)) return NEVER;
      byValue.set(v, check);
    }
  }
  return (value) => {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
    const check = byValue.get((value as Record<string, unknown>)[disc]);
    return check !== undefined && check(value);
  };
}

function compileSchema(schema: Schema): Precheck {
  const def = defOf(schema);
  if (def.coerce === true) return NEVER;
  switch (def.type) {
    case 'string': {
      const checks = checksOf(def, 'string');
      return checks === undefined ? NEVER : withChecks((v) => typeof v === 'string', checks);
    }
    case 'number': {
      const checks = checksOf(def, 'number');
      // zod's number refuses NaN and ±Infinity before any check.
      return checks === undefined ? NEVER : withChecks((v) => typeof v === 'number' && Number.isFinite(v), checks);
    }
    case 'boolean': {
      const checks = checksOf(def, 'none');
      return checks === undefined ? NEVER : withChecks((v) => typeof v === 'boolean', checks);
    }
    case 'literal': {
      const values = def.values;
      if (values === undefined || (def.checks?.length ?? 0) > 0) return NEVER;
      return (v) => values.includes(v);
    }
    case 'enum': {
      const entries = Object.values(def.entries ?? {});
      // String enums only (a TypeScript numeric enum carries reverse mappings zod filters out).
      if (entries.length === 0 || entries.some((e) => typeof e !== 'string') || (def.checks?.length ?? 0) > 0)
        return NEVER;
      const values = new Set(entries);
      return (v) => values.has(v);
    }
    case 'array': {
      const checks = checksOf(def, 'array');
      if (checks === undefined || def.element === undefined) return NEVER;
      const element = compileSchema(def.element);
      return withChecks((v) => {
        if (!Array.isArray(v)) return false;
        // By index, not `every`: a hole is an undefined element to zod.
        for (let i = 0; i < v.length; i += 1) if (!element(v[i])) return false;
        return true;
      }, checks);
    }
    case 'optional': {
      if (def.innerType === undefined || (def.checks?.length ?? 0) > 0) return NEVER;
      const inner = compileSchema(def.innerType);
      return (v) => v === undefined || inner(v);
    }
    case 'default': {
      // Present: the inner schema's value; absent: zod fills the default in (a different value: ask zod).
      if (def.innerType === undefined || (def.checks?.length ?? 0) > 0) return NEVER;
      const inner = compileSchema(def.innerType);
      return (v) => v !== undefined && inner(v);
    }
    case 'object':
      return compileObject(def, compileSchema);
    case 'union':
      return compileUnion(def, compileSchema);
    default:
      return NEVER;
  }
}

const compiled = new WeakMap<z.ZodType, Precheck>();

/** The {@link Precheck} of a schema, compiled on first use. */
export function precheckOf(schema: z.ZodType): Precheck {
  let check = compiled.get(schema);
  if (check === undefined) {
    check = compileSchema(schema as unknown as Schema);
    compiled.set(schema, check);
  }
  return check;
}
