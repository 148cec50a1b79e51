import { VigieError } from '@vigie/errors';
import type { z } from 'zod';
import { Alert } from './alert.js';
import { DeadLetter } from './deadletter.js';
import { CONTRACT_ERRORS } from './errors.js';
import { VigieEvent } from './events.js';
import { precheckOf } from './precheck.js';

/** One problem found in a decoded value: `path` is dotted (`session.pid`, `audit.objects.0.name`). */
export interface ContractIssue {
  path: string;
  message: string;
}

/** A value refused by the contract, with every offending field path. Code `VIGIE_CONTRACT_INVALID`. */
export class ContractError extends VigieError {
  declare readonly code: typeof CONTRACT_ERRORS.INVALID;

  constructor(
    readonly issues: ContractIssue[],
    options: { cause?: unknown } = {},
  ) {
    super(
      CONTRACT_ERRORS.INVALID,
      `invalid event: ${issues.map((i) => `${i.path || '(root)'}: ${i.message}`).join('; ')}`,
      options,
    );
    this.name = 'ContractError';
  }
}

/** The outcome of decoding: a value, or the reason it was refused. Bad input is a value, not an exception. */
export type Decoded<T> = { ok: true; value: T } | { ok: false; error: ContractError };

// A producer that wrote query_id as a bare JSON number would have it rounded by JSON.parse; quote it first.
const BARE_QUERY_ID = /"queryId":\s*(-?\d+)/g;
// Searched from its rare first letter, the quote before it checked apart: V8's indexOf skips ahead to a rare first
// character, where from a quote (every key and string has two) it was ~6x slower (0.48 µs for a 720-byte event).
const QUERY_ID_KEY = 'queryId":';
const QUOTE = 34;

/**
 * Whether any `"queryId":` is followed by a bare number. Vigie's own producers always quote it, so the common case
 * is one indexOf instead of a regex pass over every message.
 */
function hasBareQueryId(text: string): boolean {
  for (let at = text.indexOf(QUERY_ID_KEY); at !== -1; at = text.indexOf(QUERY_ID_KEY, at + 1)) {
    if (text.charCodeAt(at - 1) !== QUOTE) continue;
    let i = at + QUERY_ID_KEY.length;
    // JSON whitespace: space, tab, line feed, carriage return.
    for (let w = text.charCodeAt(i); w === 32 || w === 9 || w === 10 || w === 13; w = text.charCodeAt(i)) i += 1;
    const c = text.charCodeAt(i);
    if (c === 45 || (c >= 48 && c <= 57)) return true;
  }
  return false;
}

function toIssues(error: z.ZodError): ContractIssue[] {
  return error.issues.map((i) => ({ path: i.path.map(String).join('.'), message: i.message }));
}

/**
 * Decodes bytes or text against a schema; never throws on bad input. A value the schema's {@link precheckOf precheck}
 * passes is zod's output as it stands (zod would return an equal copy); any other is zod's to accept or refuse.
 */
export function decodeWith<S extends z.ZodType>(schema: S, input: Buffer | string): Decoded<z.infer<S>> {
  let text = typeof input === 'string' ? input : input.toString('utf8');
  if (hasBareQueryId(text)) text = text.replace(BARE_QUERY_ID, '"queryId":"$1"');
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (cause) {
    return { ok: false, error: new ContractError([{ path: '', message: 'not valid JSON' }], { cause }) };
  }
  if (precheckOf(schema)(raw)) return { ok: true, value: raw as z.infer<S> };
  const result = schema.safeParse(raw);
  return result.success
    ? { ok: true, value: result.data }
    : { ok: false, error: new ContractError(toIssues(result.error)) };
}

/**
 * Encodes a value after checking it against its schema: a producer bug is caught at the source, not downstream.
 * Throws {@link ContractError}.
 */
export function encodeWith<S extends z.ZodType>(schema: S, value: z.infer<S>): Buffer {
  const result = schema.safeParse(value);
  if (!result.success) throw new ContractError(toIssues(result.error));
  return Buffer.from(JSON.stringify(result.data));
}

/** Decodes any v1 event. */
export const decodeEvent = (input: Buffer | string): Decoded<VigieEvent> => decodeWith(VigieEvent, input);
/** Validates and encodes any v1 event. */
export const encodeEvent = (event: VigieEvent): Buffer => encodeWith(VigieEvent, event);
/** Decodes an alert. */
export const decodeAlert = (input: Buffer | string): Decoded<Alert> => decodeWith(Alert, input);
/** Validates and encodes an alert. */
export const encodeAlert = (alert: Alert): Buffer => encodeWith(Alert, alert);
/** Decodes a dead letter. */
export const decodeDeadLetter = (input: Buffer | string): Decoded<DeadLetter> => decodeWith(DeadLetter, input);
/** Validates and encodes a dead letter. */
export const encodeDeadLetter = (letter: DeadLetter): Buffer => encodeWith(DeadLetter, letter);
