import type { FastifyInstance, FastifyReply } from 'fastify';
import type { z } from 'zod';
import { PUBLIC_ROUTE, RUNTIME_ERRORS } from '@vigie/runtime';
import type { AlertStore, StoredAlert } from '../sinks/store/alert-store.js';
import { buildOpenApiDocument } from './openapi.js';
import type { Alert } from '@vigie/contract';
import { parseDuration } from '@vigie/policy';
import type { ResponseOutcome, ResponseRequest } from '../respond/responder.js';
import {
  AckBody,
  AlertParams,
  AlertQuery,
  ResponseBody,
  SessionParams,
  TimelineQuery,
  type ApiError,
} from './schemas.js';
import { DETECTOR_ERRORS } from '../errors.js';

/** Options of {@link registerApi}. */
export interface ApiOptions {
  store: Pick<AlertStore, 'listAlerts' | 'getAlert' | 'ack' | 'sessionTimeline'>;
  /** Base URL used in links (`http://127.0.0.1:18080`); a function because the port is known only after listen. */
  baseUrl: () => string;
  /** Called when an alert is acknowledged (audit log: who, which alert id). */
  onAck?: (id: string, by: string) => void;
  /** Carries out an active response (absent: no responder configured, requests get 503). */
  respond?: ((alert: Alert, request: ResponseRequest) => Promise<ResponseOutcome>) | undefined;
}

const OPENAPI_PATH = '/api/openapi.json';

function parse<S extends z.ZodType>(
  schema: S,
  input: unknown,
  reply: FastifyReply,
  where: string,
): z.infer<S> | undefined {
  const result = schema.safeParse(input ?? {});
  if (result.success) return result.data;
  const body: ApiError = {
    error: RUNTIME_ERRORS.API_BAD_REQUEST,
    message: `invalid ${where}`,
    details: result.error.issues.map((i) => ({ path: i.path.map(String).join('.'), message: i.message })),
  };
  void reply.code(400).send(body);
  return undefined;
}

function notFound(reply: FastifyReply, what: string) {
  const body: ApiError = { error: RUNTIME_ERRORS.API_NOT_FOUND, message: `${what} not found` };
  return reply.code(404).send(body);
}

/**
 * Adds the evidence API to the service's fastify server (the one that already serves /metrics, /healthz and
 * /readyz, built with the detector's bearer check as its `authenticate`). The server protects every route that
 * is not declared public, so these routes declare nothing but the OpenAPI document (no data in it). Inputs are
 * validated with the zod schemas the OpenAPI document is built from, so the two cannot drift.
 */
export function registerApi(app: FastifyInstance, { store, baseUrl, onAck, respond }: ApiOptions): void {
  const links = (s: StoredAlert) => {
    const a = s.alert;
    const base = baseUrl();
    const self = `${base}/api/alerts/${encodeURIComponent(a.id)}`;
    return {
      ...s,
      links: {
        self,
        ...(a.sessionId !== undefined
          ? {
              timeline: `${base}/api/sessions/${encodeURIComponent(a.cluster)}/${encodeURIComponent(a.sessionId)}`,
            }
          : {}),
      },
    };
  };

  let openapi: Record<string, unknown> | undefined;
  app.get(OPENAPI_PATH, PUBLIC_ROUTE, async () => (openapi ??= buildOpenApiDocument(baseUrl())));

  app.get('/api/alerts', async (req, reply) => {
    const q = parse(AlertQuery, req.query, reply, 'query string');
    if (!q) return reply;
    const alerts = await store.listAlerts({
      ...(q.rule !== undefined ? { rule: q.rule } : {}),
      ...(q.severity !== undefined ? { severity: q.severity } : {}),
      ...(q.status !== undefined ? { status: q.status } : {}),
      ...(q.since !== undefined ? { since: new Date(q.since) } : {}),
      ...(q.role !== undefined ? { role: q.role } : {}),
      ...(q.cluster !== undefined ? { cluster: q.cluster } : {}),
      limit: q.limit,
    });
    return { alerts: alerts.map(links) };
  });

  app.get('/api/alerts/:id', async (req, reply) => {
    const p = parse(AlertParams, req.params, reply, 'path');
    if (!p) return reply;
    const found = await store.getAlert(p.id);
    return found ? links(found) : notFound(reply, 'alert');
  });

  app.post('/api/alerts/:id/ack', async (req, reply) => {
    const p = parse(AlertParams, req.params, reply, 'path');
    if (!p) return reply;
    const body = parse(AckBody, req.body, reply, 'body');
    if (!body) return reply;
    const acked = await store.ack(p.id, body.by, body.comment);
    if (!acked) return notFound(reply, 'alert');
    onAck?.(p.id, body.by);
    return links(acked);
  });

  app.post('/api/alerts/:id/response', async (req, reply) => {
    const p = parse(AlertParams, req.params, reply, 'path');
    if (!p) return reply;
    const body = parse(ResponseBody, req.body, reply, 'body');
    if (!body) return reply;
    if (respond === undefined) {
      const error: ApiError = {
        error: DETECTOR_ERRORS.RESPOND_DISABLED,
        message: 'no responder configured (responder.connectionString)',
      };
      return reply.code(503).send(error);
    }
    const found = await store.getAlert(p.id);
    if (!found) return notFound(reply, 'alert');
    const outcome = await respond(found.alert, {
      terminate: body.terminate,
      lock: body.lock,
      lockForMs: body.lockFor === undefined ? undefined : parseDuration(body.lockFor),
      dryRun: body.dryRun,
      by: body.by,
      mode: 'manual',
    });
    if (outcome.status === 'refused') {
      const error: ApiError = {
        error: DETECTOR_ERRORS.RESPOND_REFUSED,
        message: `response refused: ${outcome.actions[0]?.detail ?? 'by the policy'}`,
      };
      return reply.code(403).send(error);
    }
    const after = await store.getAlert(p.id);
    return { status: outcome.status, actions: outcome.actions, ...(after ? { alert: links(after) } : {}) };
  });

  app.get('/api/sessions/:cluster/:sessionId', async (req, reply) => {
    const p = parse(SessionParams, req.params, reply, 'path');
    if (!p) return reply;
    const q = parse(TimelineQuery, req.query, reply, 'query string');
    if (!q) return reply;
    const rows = await store.sessionTimeline(p.cluster, p.sessionId, q.limit + 1);
    if (rows.length === 0) return notFound(reply, 'session timeline');
    return {
      cluster: p.cluster,
      sessionId: p.sessionId,
      events: rows.slice(0, q.limit).map(({ eventId, ts, kind, body }) => ({ eventId, ts, kind, body })),
      truncated: rows.length > q.limit,
    };
  });
}
