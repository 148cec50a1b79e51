import type { FastifyInstance } from 'fastify';

/**
 * Lets the server read `application/x-www-form-urlencoded` bodies (the evidence pages' forms post them; no
 * JavaScript). Each field keeps its first value; the body limit is the server's.
 */
export function acceptFormBodies(app: FastifyInstance): void {
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_request, body, done) => {
    const fields: Record<string, string> = {};
    for (const [name, value] of new URLSearchParams(body as string)) if (!(name in fields)) fields[name] = value;
    done(null, fields);
  });
}
