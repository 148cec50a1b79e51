import { z } from 'zod';
import {
  AckBody,
  AlertList,
  AlertQuery,
  AlertRecord,
  ApiError,
  ResponseBody,
  ResponseResult,
  SessionParams,
  SessionTimeline,
  TimelineQuery,
} from './schemas.js';

type JsonSchema = Record<string, unknown>;

const schemaOf = (s: z.ZodType, io: 'input' | 'output' = 'output'): JsonSchema => {
  const { $schema: _drop, ...rest } = z.toJSONSchema(s, { io, unrepresentable: 'any', target: 'openapi-3.0' });
  return rest;
};

/** OpenAPI parameters of an object schema's properties (query string or path). */
function parametersOf(s: z.ZodType, where: 'query' | 'path'): JsonSchema[] {
  const json = schemaOf(s, 'input') as { properties?: Record<string, JsonSchema>; required?: string[] };
  return Object.entries(json.properties ?? {}).map(([name, schema]) => ({
    name,
    in: where,
    required: where === 'path' || (json.required ?? []).includes(name),
    schema,
    ...(typeof schema['description'] === 'string' ? { description: schema['description'] } : {}),
  }));
}

const errorResponse = (description: string) => ({
  description,
  content: { 'application/json': { schema: { $ref: '#/components/schemas/ApiError' } } },
});

const ok = (ref: string) => ({
  description: 'OK',
  content: { 'application/json': { schema: { $ref: `#/components/schemas/${ref}` } } },
});

/** The OpenAPI 3 document of the evidence API, generated from the same zod schemas that validate requests. */
export function buildOpenApiDocument(baseUrl: string): JsonSchema {
  const idParam = { name: 'id', in: 'path', required: true, schema: { type: 'string' } };
  const common = { 401: errorResponse('Missing or wrong bearer token'), 400: errorResponse('Invalid input') };
  return {
    openapi: '3.0.3',
    info: {
      title: 'Vigie detector API',
      version: '1',
      description: 'Alerts raised by the Vigie detector, their evidence and the redacted timelines of their sessions.',
    },
    servers: [{ url: baseUrl }],
    security: [{ bearer: [] }],
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
      schemas: {
        AlertRecord: schemaOf(AlertRecord),
        AlertList: schemaOf(AlertList),
        SessionTimeline: schemaOf(SessionTimeline),
        AckBody: schemaOf(AckBody, 'input'),
        ResponseBody: schemaOf(ResponseBody, 'input'),
        ResponseResult: schemaOf(ResponseResult),
        ApiError: schemaOf(ApiError),
      },
    },
    paths: {
      '/api/alerts': {
        get: {
          summary: 'List alerts, newest first',
          parameters: parametersOf(AlertQuery, 'query'),
          responses: { 200: ok('AlertList'), ...common },
        },
      },
      '/api/alerts/{id}': {
        get: {
          summary: 'One alert with its evidence',
          parameters: [idParam],
          responses: { 200: ok('AlertRecord'), 404: errorResponse('No such alert'), ...common },
        },
      },
      '/api/alerts/{id}/ack': {
        post: {
          summary: 'Acknowledge an alert',
          parameters: [idParam],
          requestBody: {
            required: true,
            content: { 'application/json': { schema: { $ref: '#/components/schemas/AckBody' } } },
          },
          responses: { 200: ok('AlertRecord'), 404: errorResponse('No such alert'), ...common },
        },
      },
      '/api/alerts/{id}/response': {
        post: {
          summary: "Terminate the alert's session and/or lock its login for a while (dry run unless dryRun: false)",
          parameters: [idParam],
          requestBody: {
            required: true,
            content: { 'application/json': { schema: { $ref: '#/components/schemas/ResponseBody' } } },
          },
          responses: {
            200: ok('ResponseResult'),
            403: errorResponse('Refused by the response policy (response.never, roles.vigie, superuser, …)'),
            404: errorResponse('No such alert'),
            503: errorResponse('No responder configured'),
            ...common,
          },
        },
      },
      '/api/sessions/{cluster}/{sessionId}': {
        get: {
          summary: 'Redacted timeline of a session that raised an alert',
          parameters: [...parametersOf(SessionParams, 'path'), ...parametersOf(TimelineQuery, 'query')],
          responses: { 200: ok('SessionTimeline'), 404: errorResponse('No timeline for this session'), ...common },
        },
      },
      '/api/openapi.json': {
        get: { summary: 'This document', security: [], responses: { 200: { description: 'OpenAPI 3 document' } } },
      },
    },
  };
}
