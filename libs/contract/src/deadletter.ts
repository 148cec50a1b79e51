import { z } from 'zod';
import { CONTRACT_VERSION, SourcePosition, Timestamp } from './common.js';

/** Why a record was rejected: a small fixed set, usable as a metric label. */
export const RejectReason = z.enum([
  'malformed_json',
  'malformed_csv',
  'missing_field',
  'bad_audit_payload',
  'oversized_record',
  /** Kafka refused the event for good (larger than the topic's max.message.bytes, a record it rejects). */
  'kafka_rejected',
  'invalid_event',
  'undecodable',
  /** A csvlog record cut short (the server crashed mid-write, a file was truncated): reading resumed at the next record. */
  'broken_record',
]);
export type RejectReason = z.infer<typeof RejectReason>;

/** A record that could not become an event, kept with where it came from and why (topic `vigie.deadletter.v1`). */
export const DeadLetter = z.object({
  v: z.literal(CONTRACT_VERSION),
  id: z.string().min(1),
  kind: z.literal('deadletter'),
  cluster: z.string(),
  ts: Timestamp,
  /** The service that rejected it. */
  component: z.string(),
  reason: RejectReason,
  /** What exactly was wrong (no record content). */
  detail: z.string(),
  source: SourcePosition,
  /** The start of the record with every literal and quoted value redacted. */
  excerpt: z.string().max(1024),
});
export type DeadLetter = z.infer<typeof DeadLetter>;
