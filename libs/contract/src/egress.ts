import { z } from 'zod';
import { envelope } from './common.js';

/** Bytes the kernel says a PostgreSQL backend's socket sent to its client. */
export const EgressSampleEvent = z.object({
  ...envelope,
  kind: z.literal('egress.sample'),
  /**
   * `tcp` sockets carry counters; a `unix` session has none, reported as such rather than as zero bytes: on a
   * `unix` sample the byte fields are 0 and mean "not measurable", never "nothing sent".
   */
  transport: z.enum(['tcp', 'unix']),
  /**
   * Total bytes sent on the socket so far (`bytes_sent`). The egress collector reports what the client received:
   * `bytes_acked` capped at `bytes_sent`, so retransmitted bytes are not counted twice.
   */
  bytesSent: z.number().int().nonnegative(),
  /** Bytes sent since this collector's previous sample of the same socket. */
  bytesSentDelta: z.number().int().nonnegative(),
  bytesAcked: z.number().int().nonnegative().optional(),
  bytesReceived: z.number().int().nonnegative().optional(),
  /** The socket closed: these are its final counters. */
  final: z.boolean(),
  /**
   * The client end of the TCP socket as the kernel reported it. On a final sample whose session could not be
   * joined (the connection opened and closed between two looks at pg_stat_activity), `session` is absent and this
   * is the only identity: the event is then keyed `<cluster>/egress/<address>`.
   */
  peer: z.object({ addr: z.string().min(1), port: z.number().int().min(0).max(65535) }).optional(),
});
export type EgressSampleEvent = z.infer<typeof EgressSampleEvent>;
