import { httpSettings, logSettings } from '@vigie/runtime';
import { z } from 'zod';

/** Default port of the local receiver (next to Alertmanager's 19093 and Kafka's controller 19094). */
export const DEFAULT_RECEIVER_PORT = 19096;

/** Settings of the local webhook receiver. */
export const ReceiverConfig = z.object({
  file: z
    .string()
    .min(1)
    .default('./notifications.jsonl')
    .describe('Where every notification is appended, one JSON object a line (mode 0600: alerts name people).'),
  maxServed: z
    .number()
    .int()
    .positive()
    .default(10_000)
    .describe('GET /notifications serves at most this many of the newest notifications.'),
  http: httpSettings(DEFAULT_RECEIVER_PORT),
  log: logSettings(),
});
/** Validated receiver settings. */
export type ReceiverConfig = z.infer<typeof ReceiverConfig>;
