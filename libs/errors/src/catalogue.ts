// An error catalogue: the codes of one lib or service, each with what it means, in that package's `errors.ts`
// (fastify keeps its FST_ERR_* the same way). Codes are branded: a string literal written at a throw site does not
// type-check as an ErrorCode, so every code comes from a catalogue, and a test checks every catalogue against the
// README's troubleshooting table.

declare const CATALOGUED: unique symbol;

/** A stable `VIGIE_<AREA>_<WHAT>` code taken from a catalogue (a bare string literal is not one). */
export type ErrorCode<C extends string = string> = C & { readonly [CATALOGUED]: true };

/** One catalogue entry as written: the code, then what it means in one line. */
export type ErrorEntry = readonly [code: `VIGIE_${string}`, meaning: string];

/** A catalogue: for each key, its code. */
export type ErrorCatalogue<T extends Record<string, ErrorEntry>> = { readonly [K in keyof T]: ErrorCode<T[K][0]> };

/** One code of a catalogue with its key and meaning, as {@link catalogueEntries} lists them. */
export interface CatalogueEntry {
  key: string;
  code: ErrorCode;
  meaning: string;
}

// Symbol.for, not Symbol(): a catalogue stays recognisable when two copies of this module are loaded (src and dist).
const ENTRIES = Symbol.for('vigie.errors.catalogue');

/**
 * Builds a package's catalogue from `{ KEY: ['VIGIE_<AREA>_KEY', 'meaning'] }`: the result maps each key to its
 * code (`PGLOG_ERRORS.CHECKPOINT_READ`), frozen, and {@link catalogueEntries} gives back the meanings.
 */
export function defineErrors<const T extends Record<string, ErrorEntry>>(entries: T): ErrorCatalogue<T> {
  const codes: Record<string, string> = {};
  const listed: CatalogueEntry[] = [];
  for (const [key, [code, meaning]] of Object.entries(entries)) {
    codes[key] = code;
    listed.push({ key, code: code as ErrorCode, meaning });
  }
  Object.defineProperty(codes, ENTRIES, { value: Object.freeze(listed), enumerable: false });
  return Object.freeze(codes) as ErrorCatalogue<T>;
}

/** The entries of a catalogue built by {@link defineErrors}, in order; `undefined` for any other value. */
export function catalogueEntries(value: unknown): readonly CatalogueEntry[] | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  return (value as { [ENTRIES]?: readonly CatalogueEntry[] })[ENTRIES];
}
