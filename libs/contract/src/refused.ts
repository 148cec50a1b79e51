import { CONTRACT_VERSION, type SourcePosition } from './common.js';
import type { DeadLetter } from './deadletter.js';

/** A message Kafka refused for good, as a producer hands it back (see `@vigie/kafka`'s RejectedMessage). */
export interface RefusedMessage {
  topic: string;
  /** The encoded event, alert or dead letter. */
  value: Buffer | string;
  /** Size on the wire and the Kafka error name (MESSAGE_TOO_LARGE, INVALID_RECORD…). */
  bytes: number;
  error: string;
}

/**
 * The dead letter that takes the place of a message Kafka refused for good: the refused message's id (suffixed, so a
 * replayed refusal is one letter), time, kind and source position, its size and the Kafka error — never its content.
 * Every service replaces refused messages through this one function.
 */
export function refusedDeadLetter(refused: RefusedMessage, cluster: string, component: string): DeadLetter {
  const head = identity(refused.value);
  return {
    v: CONTRACT_VERSION,
    id: `${head.id ?? `${component}:${refused.topic}:unidentified`}:kafka-rejected`,
    kind: 'deadletter',
    cluster,
    ts: head.ts ?? new Date().toISOString(),
    component,
    reason: 'kafka_rejected',
    detail: `${head.kind ?? 'message'} of ${refused.bytes} bytes refused by Kafka for ${refused.topic}: ${refused.error}`,
    source: head.source ?? {},
    excerpt: '',
  };
}

/** The identifying members of an encoded message (a refused one: rare, so a plain parse); none if unreadable. */
function identity(value: Buffer | string): { id?: string; ts?: string; kind?: string; source?: SourcePosition } {
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(typeof value === 'string' ? value : value.toString('utf8')) as Record<string, unknown>;
  } catch {
    return {};
  }
  const out: { id?: string; ts?: string; kind?: string; source?: SourcePosition } = {};
  if (typeof o['id'] === 'string') out.id = o['id'];
  // Alerts carry lastSeen rather than ts.
  const ts = o['ts'] ?? o['lastSeen'];
  if (typeof ts === 'string') out.ts = ts;
  if (typeof o['kind'] === 'string') out.kind = o['kind'];
  else if (typeof o['rule'] === 'string') out.kind = 'alert';
  const s = o['source'];
  if (s !== null && typeof s === 'object') {
    const { file, offset, lsn } = s as Record<string, unknown>;
    out.source = {
      ...(typeof file === 'string' ? { file } : {}),
      ...(typeof offset === 'number' && Number.isInteger(offset) && offset >= 0 ? { offset } : {}),
      ...(typeof lsn === 'string' ? { lsn } : {}),
    };
  }
  return out;
}
