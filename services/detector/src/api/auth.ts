import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';

/**
 * Checks an `Authorization: Bearer <token>` header in constant time: both sides are hashed first so the
 * comparison always runs on equal-length digests and leaks neither the token nor its length.
 */
export function bearerChecker(token: string | undefined): (header: string | undefined) => boolean {
  if (token === undefined) return () => true;
  const expected = createHash('sha256').update(token).digest();
  return (header) => {
    const match = header === undefined ? null : /^Bearer\s+(\S+)\s*$/i.exec(header);
    const given = createHash('sha256')
      .update(match?.[1] ?? '')
      .digest();
    // Compare even when the header is missing, so every refusal costs the same.
    return timingSafeEqual(given, expected) && match !== null;
  };
}

/**
 * The detector server's `authenticate`: a request carries the API token. Without a token (only when the
 * configuration says `api.allowAnonymous: true`) every request is let through.
 */
export function bearerAuthenticator(token: string | undefined): (request: FastifyRequest) => boolean {
  const check = bearerChecker(token);
  return (request) => check(request.headers.authorization);
}

/**
 * The API's `authenticate` over a token check (the shared `api.token` and `api.users`' tokens): an
 * `Authorization: Bearer <token>` header whose token someone holds. Undefined check = anonymous access.
 */
export function tokenAuthenticator(
  check: ((given: string) => unknown) | undefined,
): (request: FastifyRequest) => boolean {
  if (check === undefined) return () => true;
  return (request) => {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(request.headers.authorization ?? '');
    // Check even when the header is malformed, so every refusal costs the same.
    const owner = check(match?.[1] ?? '');
    return match !== null && owner !== undefined;
  };
}
