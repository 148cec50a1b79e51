import type { StatementEvent, VigieEvent } from '@vigie/contract';

/** JSON of objects events share by reference (see {@link stringifyEvent}); entries go with their objects. */
const sharedJson = new WeakMap<object, string>();
/** `{"file":<path>,"offset":` by log file path (bounded). */
const fileJson = new Map<string, string>();
/** A `source` of exactly `{ file, offset }` (a finite number), in that order: what JSON.stringify writes as below. */
function isFilePosition(v: unknown): v is { file: string; offset: number } {
  if (typeof v !== 'object' || v === null) return false;
  const keys = Object.keys(v);
  const { file, offset } = v as { file?: unknown; offset?: unknown };
  return (
    keys.length === 2 &&
    keys[0] === 'file' &&
    keys[1] === 'offset' &&
    typeof file === 'string' &&
    typeof offset === 'number' &&
    Number.isFinite(offset)
  );
}
/** `"key":` of each event member name seen (a handful). */
const memberJson = new Map<string, string>();

/**
 * `JSON.stringify(event)`, the same text, with the members events share by reference encoded once: `sql` (the
 * analyzer returns one frozen analysis per statement shape) and `session` (the parser one frozen object per session
 * while it does not change). They are about 60 % of a statement event's ~900 bytes, and JSON.stringify was the
 * collector's largest cost end to end (24 % of its CPU in a profile of bench/pglog-throughput).
 */
export function stringifyEvent(event: VigieEvent): string {
  if (event.kind === 'statement') return stringifyStatement(event);
  let out = '{';
  for (const key in event) {
    const value: unknown = (event as unknown as Record<string, unknown>)[key];
    if (value === undefined || typeof value === 'function' || typeof value === 'symbol') continue;
    const member = memo(memberJson, key, memberPrefix);
    let json: string;
    if ((key === 'sql' || key === 'session') && typeof value === 'object' && value !== null) json = sharedOrJson(value);
    else if (key === 'source') json = sourceJson(value);
    else json = JSON.stringify(value);
    out += out.length > 1 ? `,${member}${json}` : member + json;
  }
  return `${out}}`;
}

/** JSON of a frozen shared member (cached), or of any other value. */
function sharedOrJson(value: object): string {
  if (!Object.isFrozen(value)) return JSON.stringify(value);
  let json = sharedJson.get(value);
  if (json === undefined) sharedJson.set(value, (json = JSON.stringify(value)));
  return json;
}

/** JSON of an event's `source`: the log file's path is the same for thousands of events. */
function sourceJson(source: unknown): string {
  if (!isFilePosition(source)) return JSON.stringify(source);
  const file = memo(fileJson, source.file, filePrefix);
  return `${file}${source.offset}}`;
}

const filePrefix = (file: string): string => `{"file":${JSON.stringify(file)},"offset":`;
const memberPrefix = (key: string): string => `${JSON.stringify(key)}:`;

/** `map`'s value for `key`, made and kept on first use; the map is emptied when it reaches 1,000 entries. */
function memo(map: Map<string, string>, key: string, make: (key: string) => string): string {
  let value = map.get(key);
  if (value === undefined) {
    if (map.size >= 1000) map.clear();
    map.set(key, (value = make(key)));
  }
  return value;
}

/** JSON of strings with few distinct values (cluster, roles, pgaudit class and command), bounded. */
const fewJson = new Map<string, string>();
const quote = (s: string): string => JSON.stringify(s);
const fewString = (s: string): string => memo(fewJson, s, quote);

const AUDIT_TYPES_JSON: Record<string, string> = {
  SESSION: '["SESSION"]',
  OBJECT: '["OBJECT"]',
  'OBJECT,SESSION': '["OBJECT","SESSION"]',
};

/**
 * {@link stringifyEvent} of the statement event (nine events in ten), written member by member in the order the
 * parser builds it (`emit` in collector-pglog's log parser: one literal, absent members undefined), which is JSON.stringify's
 * order: a third of stringifyEvent's time was its generic walk over the members (bench/pglog-throughput.ts
 * profile). Unit tests compare the text with JSON.stringify's on every captured statement.
 */
function stringifyStatement(e: StatementEvent): string {
  const a = e.audit;
  let audit = `{"auditTypes":${AUDIT_TYPES_JSON[a.auditTypes.join(',')] ?? JSON.stringify(a.auditTypes)},"statementId":${a.statementId},"substatementId":${a.substatementId},"class":${fewString(a.class)},"command":${fewString(a.command)},"objects":${JSON.stringify(a.objects)},"parameterCount":${a.parameterCount}`;
  if (a.parameterHashes !== undefined) audit += `,"parameterHashes":${JSON.stringify(a.parameterHashes)}`;
  if (a.rows !== undefined) audit += `,"rows":${a.rows}`;
  let out = `{"v":${e.v},"id":${JSON.stringify(e.id)},"cluster":${fewString(e.cluster)},"ts":${JSON.stringify(e.ts)}`;
  if (e.session !== undefined) out += `,"session":${sharedOrJson(e.session)}`;
  if (e.source !== undefined) out += `,"source":${sourceJson(e.source)}`;
  out += `,"kind":"statement","audit":${audit}}`;
  if (e.effectiveRole !== undefined) out += `,"effectiveRole":${fewString(e.effectiveRole)}`;
  if (e.queryId !== undefined) out += `,"queryId":${JSON.stringify(e.queryId)}`;
  if (e.txid !== undefined) out += `,"txid":${JSON.stringify(e.txid)}`;
  return `${out},"sql":${sharedOrJson(e.sql)}}`;
}
