import type { FastifyReply } from 'fastify';

/**
 * The Content Security Policy of every evidence page: nothing runs (no script source at all), styles come only from
 * Vigie's own stylesheet, forms post only back to Vigie, and no other site may frame the page (clickjacking on the
 * ack button). Hostile text that slipped through escaping still could not load or run anything.
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "style-src 'self'",
  "img-src 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join('; ');

/** Headers of every evidence page and its stylesheet. */
export const PAGE_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': CONTENT_SECURITY_POLICY,
  'x-content-type-options': 'nosniff',
  // Links out of an evidence page (runbook) must not carry the page's URL.
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  // Evidence about people: no copy in a shared browser cache or a proxy.
  'cache-control': 'no-store',
  'cross-origin-opener-policy': 'same-origin',
};

/** Sets {@link PAGE_HEADERS} on a reply. */
export function setPageHeaders(reply: FastifyReply): FastifyReply {
  for (const [name, value] of Object.entries(PAGE_HEADERS)) void reply.header(name, value);
  return reply;
}
