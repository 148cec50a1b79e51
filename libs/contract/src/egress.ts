import { z } from 'zod';
import { envelope } from './common.js';

/** Bytes the kernel says a PostgreSQL backend's socket sent to its client. */
export const EgressSampleEvent = z.object({
  ...envelope,
  kind: z.literal('egress.sample'),
  /** `tcp` sockets carry counters; a `unix` session has none, reported as such rather than as zero bytes. */
  transport: z.enum(['tcp', 'unix']),
  /** Total bytes sent on the socket so far (`bytes_sent`). */
  bytesSent: z.number().int().nonnegative(),
  /** Bytes sent since this collector's previous sample of the same socket. */
  bytesSentDelta: z.number().int().nonnegative(),
  bytesAcked: z.number().int().nonnegative().optional(),
  bytesReceived: z.number().int().nonnegative().optional(),
  /** The socket closed: these are its final counters. */
  final: z.boolean(),
});
export type EgressSampleEvent = z.infer<typeof EgressSampleEvent>;
