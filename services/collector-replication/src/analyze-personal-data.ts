import type { PersonalDataFinding } from '@vigie/contract';
import { isValidIban, isValidNir } from './pii-validators.js';

/** The kinds of personal data the scanner recognises (the contract's `PersonalDataFinding.type`). */
export type PersonalDataType = PersonalDataFinding['type'];

// Candidates are found by regex, then confirmed by checksum where one exists. Boundaries are lookarounds so a NIR
// inside a longer digit run (an order number) is not taken for one.
const NIR = /(?<![0-9A-Za-z])[1-478] ?\d{2} ?\d{2} ?(?:\d{2}|2[ABab]) ?\d{3} ?\d{3} ?\d{2}(?![0-9A-Za-z])/g;
const IBAN = /(?<![0-9A-Za-z])[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?(?![0-9A-Za-z])/g;
const EMAIL = /[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}/g;
const PHONE_FR = /(?<![0-9+])(?:\+33 ?|0033 ?|0)[1-9](?:[ .-]?\d{2}){4}(?!\d)/g;

/**
 * Counts the personal identifiers in one text value. The cheap pre-filter (one pass over the characters counting
 * digits and `@`) skips the regexes for the vast majority of values (names, codes, short strings): a NIR, an IBAN
 * and a phone number each hold at least 9 digits, an e-mail holds an `@`.
 */
export function scanValue(value: string, found: (type: PersonalDataType, count: number) => void): void {
  const n = value.length;
  if (n < 6) return;
  let digits = 0;
  let at = false;
  for (let i = 0; i < n; i += 1) {
    const c = value.charCodeAt(i);
    if (c >= 48 && c <= 57) digits += 1;
    else if (c === 64) at = true;
  }
  if (at) {
    const count = countMatches(EMAIL, value);
    if (count > 0) found('email', count);
  }
  if (digits < 9) return;
  let nir = 0;
  for (const m of value.matchAll(NIR)) if (isValidNir(m[0])) nir += 1;
  if (nir > 0) found('nir', nir);
  if (digits >= 11) {
    let iban = 0;
    for (const m of value.matchAll(IBAN)) if (isValidIban(m[0])) iban += 1;
    if (iban > 0) found('iban', iban);
  }
  const phones = countMatches(PHONE_FR, value);
  if (phones > 0) found('phone_fr', phones);
}

// A hostile or huge document must not turn the scan into the bottleneck: bounded depth and values per column.
const MAX_DEPTH = 8;
const MAX_NESTED_VALUES = 1000;

function scanNested(
  value: object,
  found: (type: PersonalDataType, count: number) => void,
  depth: number,
  budget: { left: number },
): void {
  if (depth >= MAX_DEPTH) return;
  const children = Array.isArray(value) ? value : Object.values(value);
  for (const child of children) {
    if (budget.left <= 0) return;
    budget.left -= 1;
    if (typeof child === 'string') scanValue(child, found);
    else if (child !== null && typeof child === 'object') scanNested(child as object, found, depth + 1, budget);
  }
}

function countMatches(re: RegExp, value: string): number {
  let count = 0;
  re.lastIndex = 0;
  while (re.exec(value) !== null) count += 1;
  return count;
}

/**
 * Accumulates findings per table, column and type over one transaction; only counts are kept, never values.
 * Bounded by the number of distinct (table, column, type) triples the transaction touched.
 */
export class PersonalDataTally {
  private readonly counts = new Map<string, PersonalDataFinding>();

  /**
   * Scans every text value of one row image of `table`: string columns, and the strings inside json/jsonb and
   * array columns (the pg type parsers hand those over as objects and arrays; a NIR in a JSON document is still a
   * NIR). Numbers need no case: int8 and numeric arrive as strings.
   */
  scanRow(table: string, row: Record<string, unknown> | null | undefined): void {
    if (!row) return;
    for (const column in row) {
      const value = row[column];
      if (value === null || value === undefined) continue;
      const found = (type: PersonalDataType, count: number) => this.add(table, column, type, count);
      if (typeof value === 'string') scanValue(value, found);
      else if (typeof value === 'object' && !(value instanceof Uint8Array) && !(value instanceof Date)) {
        scanNested(value, found, 0, { left: MAX_NESTED_VALUES });
      }
    }
  }

  private add(table: string, column: string, type: PersonalDataType, count: number): void {
    const key = `${table}\u0000${column}\u0000${type}`;
    const cur = this.counts.get(key);
    if (cur) cur.count += count;
    else this.counts.set(key, { table, column, type, count });
  }

  /** The findings so far, sorted for deterministic events. */
  findings(): PersonalDataFinding[] {
    return [...this.counts.values()].sort(
      (a, b) => a.table.localeCompare(b.table) || a.column.localeCompare(b.column) || a.type.localeCompare(b.type),
    );
  }

  get size(): number {
    return this.counts.size;
  }
}
