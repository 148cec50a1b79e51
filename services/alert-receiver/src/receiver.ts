import { appendFile, readFile } from 'node:fs/promises';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { PUBLIC_ROUTE } from '@vigie/runtime';
import { RECEIVER_ERRORS } from './errors.js';

/** One alert of an Alertmanager webhook notification (payload version 4). */
export const NotifiedAlert = z.object({
  status: z.enum(['firing', 'resolved']),
  labels: z.record(z.string(), z.string()),
  annotations: z.record(z.string(), z.string()).default({}),
  startsAt: z.string(),
  endsAt: z.string().optional(),
  fingerprint: z.string().optional(),
});

/** The body Alertmanager POSTs to a webhook receiver (`version: "4"`). */
export const WebhookPayload = z.object({
  version: z.literal('4'),
  groupKey: z.string(),
  status: z.enum(['firing', 'resolved']),
  receiver: z.string(),
  groupLabels: z.record(z.string(), z.string()).default({}),
  commonLabels: z.record(z.string(), z.string()).default({}),
  alerts: z.array(NotifiedAlert),
  truncatedAlerts: z.number().int().nonnegative().default(0),
});
export type WebhookPayload = z.infer<typeof WebhookPayload>;

/** A notification as kept: when it arrived, on which path, and what Alertmanager sent. */
export interface Notification extends WebhookPayload {
  receivedAt: string;
  /** The last path segment Alertmanager posted to (`/notify/critical` → `critical`). */
  route: string;
}

/** What `GET /notifications` can filter on. */
const Query = z
  .object({
    alert_id: z.string().optional().describe('notifications carrying an alert with this alert_id label'),
    route: z.string().optional(),
    status: z.enum(['firing', 'resolved']).optional(),
  })
  .strict();

/**
 * Adds the receiver's routes to a server: `POST /notify/:route` appends Alertmanager's payload to `file` (one JSON
 * object a line, the notification log on-call would have received), `GET /notifications` serves them, newest
 * last. A body that is not a webhook payload is refused (400) and not kept.
 */
export function registerReceiver(
  app: FastifyInstance,
  { file, maxServed = 10_000, onNotification }: { file: string; maxServed?: number; onNotification?: () => void },
): void {
  // One append at a time, in arrival order: lines never interleave.
  let writing: Promise<void> = Promise.resolve();

  // Both routes are public: Alertmanager posts without credentials, and the receiver is the local stack's stand-in
  // for on-call, bound to loopback (a site plugs its own receivers: README, Alert routing).
  app.post<{ Params: { route: string } }>('/notify/:route', PUBLIC_ROUTE, async (req, reply) => {
    const parsed = WebhookPayload.safeParse(req.body);
    if (!parsed.success) {
      return reply.code(400).send({
        error: RECEIVER_ERRORS.BAD_PAYLOAD,
        problems: parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`),
      });
    }
    const kept: Notification = { receivedAt: new Date().toISOString(), route: req.params.route, ...parsed.data };
    const line = `${JSON.stringify(kept)}\n`;
    writing = writing.then(() => appendFile(file, line, { mode: 0o600 }));
    await writing;
    onNotification?.();
    return reply.code(200).send({ status: 'kept' });
  });

  app.get('/notifications', PUBLIC_ROUTE, async (req, reply) => {
    const q = Query.safeParse(req.query);
    if (!q.success) return reply.code(400).send({ error: RECEIVER_ERRORS.BAD_QUERY });
    const all = await readNotifications(file);
    const out = all.filter(
      (n) =>
        (q.data.route === undefined || n.route === q.data.route) &&
        (q.data.status === undefined || n.status === q.data.status) &&
        (q.data.alert_id === undefined || n.alerts.some((a) => a.labels['alert_id'] === q.data.alert_id)),
    );
    return { notifications: out.slice(-maxServed) };
  });
}

/** Reads the notification log (missing file: none yet). */
export async function readNotifications(file: string): Promise<Notification[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Notification);
}
