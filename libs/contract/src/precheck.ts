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

const defOf = (s: Schema): Def => s._zod.def;

/**
 * The test is written as JavaScript (as zod compiles its object parsers): one small function per object of the
 * schema, every field's checks inline in it. Measured on the detector's events: half the time of a closure per
 * field (a call per field), and one function for the whole event union was slower than either (too large for V8
 * to optimize). Values the code cannot hold as literals (regexes, refinements, sets, the nested objects' functions)
 * are passed in `d`; field names too, so nothing of a schema becomes code but JSON-quoted literal values. Each
 * `emit*` writes statements that `return false` when the value at `x` fails.
 */
class Writer {
  readonly deps: unknown[] = [];
  private names = 0;

  dep(value: unknown): string {
    this.deps.push(value);
    return `d[${this.deps.length - 1}]`;
  }

  name(prefix: string): string {
    this.names += 1;
    return `${prefix}${this.names}`;
  }

  /** A function of its own testing `value` with `body`, and the expression that calls it on `x`. */
  call(body: string, x: string): string {
    const make = new Function('d', `return function precheck(value) {\n${body}return true;\n};`) as (
      deps: unknown[],
    ) => Precheck;
    return `${this.dep(make(this.deps))}(${x})`;
  }
}

/** The checks of a string, number or array (or a boolean: none), in zod's order; undefined when one is unknown. */
function checksCode(w: Writer, def: Def, kind: 'string' | 'number' | 'array' | 'none', x: string): string | undefined {
  // A schema that is itself a check (`z.iso.datetime()` is a string schema and its format check) runs it first.
  const defs = (def.checks ?? []).map((c) => c._zod.def);
  if (def.check !== undefined) defs.unshift(def as CheckDef);
  let out = '';
  for (const d of defs) {
    const sized = kind === 'string' || kind === 'array';
    if (d.check === 'custom' && typeof d.fn === 'function') {
      // zod counts any truthy answer as a pass; only `true` is taken here (anything else: ask zod).
      out += `if (${w.dep(d.fn)}(${x}) !== true) return false;\n`;
    } else if (sized && d.check === 'min_length' && typeof d.minimum === 'number') {
      out += `if (${x}.length < ${w.dep(d.minimum)}) return false;\n`;
    } else if (sized && d.check === 'max_length' && typeof d.maximum === 'number') {
      out += `if (${x}.length > ${w.dep(d.maximum)}) return false;\n`;
    } else if (
      kind === 'string' &&
      d.check === 'string_format' &&
      (d.format === 'regex' || d.format === 'datetime') &&
      d.pattern instanceof RegExp
    ) {
      const re = w.dep(d.pattern);
      out += `${re}.lastIndex = 0;\nif (!${re}.test(${x})) return false;\n`;
    } else if (kind === 'number' && d.check === 'number_format' && d.format === 'safeint') {
      out += `if (!Number.isSafeInteger(${x})) return false;\n`;
    } else if (kind === 'number' && d.check === 'greater_than' && typeof d.value === 'number') {
      out += `if (!(${x} ${d.inclusive === true ? '>=' : '>'} ${w.dep(d.value)})) return false;\n`;
    } else if (kind === 'number' && d.check === 'less_than' && typeof d.value === 'number') {
      out += `if (!(${x} ${d.inclusive === true ? '<=' : '<'} ${w.dep(d.value)})) return false;\n`;
    } else {
      return undefined;
    }
  }
  return out;
}

const NEVER = 'return false;\n';
const hasChecks = (def: Def): boolean => (def.checks?.length ?? 0) > 0;
/** zod returns a new plain object: the value is that object only if it is a plain one (as JSON.parse makes). */
const PLAIN_OBJECT =
  "if (typeof value !== 'object' || value === null || Object.getPrototypeOf(value) !== Object.prototype) return false;\n";

/** The body of an object's own function (its value is `value`). */
function objectBody(w: Writer, def: Def): string {
  // A strict or passthrough object (catchall) and object-level refinements are zod's to judge.
  if (def.shape === undefined || def.catchall !== undefined || hasChecks(def)) return NEVER;
  const shape = def.shape;
  const keys = Object.keys(shape);
  // A key may be absent only when zod's output then lacks it too: `.optional()`, not `.default()`.
  const mayBeAbsent = w.dep(keys.map((k) => defOf(shape[k] as Schema).type === 'optional'));
  const names = w.dep(keys);
  const cases = keys.map(
    (key, n) => `case ${n}: {\nconst v = value[k];\n${emit(w, shape[key] as Schema, 'v')}break;\n}\n`,
  );
  // One pass over the value's keys, which must follow the shape's order (zod's output order): an unknown key (zod
  // strips it), a key out of order or a missing required key all mean "ask zod".
  return (
    PLAIN_OBJECT +
    'let j = 0;\nfor (const k in value) {\n' +
    `while (j < ${keys.length} && ${names}[j] !== k) {\nif (!${mayBeAbsent}[j]) return false;\nj += 1;\n}\n` +
    `switch (j) {\n${cases.join('')}default: return false;\n}\nj += 1;\n}\n` +
    `for (; j < ${keys.length}; j += 1) if (!${mayBeAbsent}[j]) return false;\n`
  );
}

/** The body of a discriminated union's own function: a switch on the discriminator to its option's function. */
function unionBody(w: Writer, def: Def): string {
  const disc = def.discriminator;
  if (disc === undefined || def.options === undefined || hasChecks(def)) return NEVER;
  const byValue = new Map<string, Schema>();
  for (const option of def.options) {
    const field = defOf(option).shape?.[disc];
    const values = field === undefined ? undefined : defOf(field).values;
    if (field === undefined || defOf(field).type !== 'literal' || values === undefined) return NEVER;
    for (const value of values) {
      // A value that is not a string, or two options for one value: zod's choice is not modelled here.
      if (typeof value !== 'string' || byValue.has(value)) return NEVER;
      byValue.set(value, option);
    }
  }
  const cases = [...byValue].map(
    ([value, option]) => `case ${JSON.stringify(value)}: return ${emitCall(w, option, 'value')};\n`,
  );
  return PLAIN_OBJECT + `switch (value[${JSON.stringify(disc)}]) {\n${cases.join('')}default: return false;\n}\n`;
}

/** An expression calling the function of an object or union schema on `x`. */
function emitCall(w: Writer, schema: Schema, x: string): string {
  const def = defOf(schema);
  return w.call(def.type === 'union' ? unionBody(w, def) : objectBody(w, def), x);
}

function emit(w: Writer, schema: Schema, x: string): string {
  const def = defOf(schema);
  if (def.coerce === true) return NEVER;
  switch (def.type) {
    case 'string': {
      const checks = checksCode(w, def, 'string', x);
      return checks === undefined ? NEVER : `if (typeof ${x} !== 'string') return false;\n${checks}`;
    }
    case 'number': {
      const checks = checksCode(w, def, 'number', x);
      // zod's number refuses NaN and ±Infinity before any check.
      return checks === undefined
        ? NEVER
        : `if (typeof ${x} !== 'number' || !Number.isFinite(${x})) return false;\n${checks}`;
    }
    case 'boolean': {
      const checks = checksCode(w, def, 'none', x);
      return checks === undefined ? NEVER : `if (typeof ${x} !== 'boolean') return false;\n${checks}`;
    }
    case 'literal':
      return def.values === undefined || hasChecks(def)
        ? NEVER
        : `if (!${w.dep(def.values)}.includes(${x})) return false;\n`;
    case 'enum': {
      const entries = Object.values(def.entries ?? {});
      // String enums only (a TypeScript numeric enum carries reverse mappings zod filters out).
      if (entries.length === 0 || entries.some((e) => typeof e !== 'string') || hasChecks(def)) return NEVER;
      return `if (!${w.dep(new Set(entries))}.has(${x})) return false;\n`;
    }
    case 'array': {
      const checks = checksCode(w, def, 'array', x);
      if (checks === undefined || def.element === undefined) return NEVER;
      const [i, e] = [w.name('i'), w.name('e')];
      // By index: a hole is an undefined element to zod.
      return (
        `if (!Array.isArray(${x})) return false;\n${checks}` +
        `for (let ${i} = 0; ${i} < ${x}.length; ${i} += 1) {\nconst ${e} = ${x}[${i}];\n${emit(w, def.element, e)}}\n`
      );
    }
    case 'optional':
      if (def.innerType === undefined || hasChecks(def)) return NEVER;
      return `if (${x} !== undefined) {\n${emit(w, def.innerType, x)}}\n`;
    case 'default':
      // Present: the inner schema's value; absent: zod fills the default in (a different value: ask zod).
      if (def.innerType === undefined || hasChecks(def)) return NEVER;
      return `if (${x} === undefined) return false;\n${emit(w, def.innerType, x)}`;
    case 'object':
    case 'union':
      return `if (!${emitCall(w, schema, x)}) return false;\n`;
    default:
      return NEVER;
  }
}

function compileSchema(schema: Schema): Precheck {
  const w = new Writer();
  // The outermost function is made last, after every function it calls.
  w.call(emit(w, schema, 'value'), 'value');
  return w.deps.at(-1) as Precheck;
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
