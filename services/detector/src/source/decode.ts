import { ContractError, decodeEvent, type DeadLetter, type VigieEvent } from '@vigie/contract';

/** A consumed message, as much of it as the detector needs. */
export interface InputMessage {
  offset: string;
  value: Buffer | null;
}

/** What a consumed message turned into: an event, or the dead letter that says why it is not one. */
export type Decoded = { ok: true; event: VigieEvent } | { ok: false; deadLetter: DeadLetter };

/**
 * Decodes one consumed message per the contract (validated once, here, at the trust boundary). A message that is
 * not an event becomes a dead letter with its position: counted and sent on by the caller, never thrown.
 */
export function decodeMessage(topic: string, partition: number, m: InputMessage, cluster: string): Decoded {
  const decoded = m.value === null ? undefined : decodeEvent(m.value);
  if (decoded?.ok === true) return { ok: true, event: decoded.value };
  const error = decoded?.error ?? new ContractError([{ path: '', message: 'empty message' }]);
  return {
    ok: false,
    deadLetter: deadLetterOf({ topic, partition, offset: m.offset, value: m.value, error }, cluster),
  };
}

/**
 * The start of a message with every string value and number replaced, keys kept: enough to see the shape of what
 * was wrong without carrying a statement or a personal value into the dead-letter topic.
 */
export function redactedExcerpt(value: Buffer | null, max = 1024): string {
  if (!value) return '';
  const text = value.subarray(0, 4096).toString('utf8');
  return text
    .replace(/"((?:[^"\\]|\\.)*)"(\s*:)?/g, (_m, key: string, colon: string | undefined) =>
      colon ? `"${key}"${colon}` : '"…"',
    )
    .replace(/-?\b\d+(\.\d+)?([eE][+-]?\d+)?\b/g, '0')
    .slice(0, max);
}

/** Where the undecodable message was, and why it was refused. */
export interface RejectedMessage {
  topic: string;
  partition: number;
  offset: string;
  value: Buffer | null;
  error: ContractError;
}

/** The dead letter of a message the detector could not decode; its id makes a replayed batch idempotent. */
export function deadLetterOf(r: RejectedMessage, cluster: string, now: Date = new Date()): DeadLetter {
  const notJson = r.error.issues.length === 1 && r.error.issues[0]?.message === 'not valid JSON';
  return {
    v: 1,
    id: `detector:${r.topic}:${r.partition}:${r.offset}`,
    kind: 'deadletter',
    cluster,
    ts: now.toISOString(),
    component: 'detector',
    reason: r.value === null || notJson ? 'undecodable' : 'invalid_event',
    // Field paths and zod's messages only: they name what is wrong, not the values.
    detail: r.error.issues
      .slice(0, 10)
      .map((i) => `${i.path || '(root)'}: ${i.message}`)
      .join('; ')
      .slice(0, 1000),
    source: { file: `kafka:${r.topic}/${r.partition}`, offset: Number(r.offset) },
    excerpt: redactedExcerpt(r.value),
  };
}
