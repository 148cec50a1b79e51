// Test fixture: the ways an attacker spells a protected path to slip past an access check that reads the raw URL
// (percent-encoding, doubled or encoded separators, case, dot segments, matrix parameters…). Used by the API's
// unit test (fastify inject) and its integration test (raw requests on a real socket).

import { alertRef } from '../src/sinks/store/alert-store.js';

/** A concrete path for a route pattern (parameters filled with values the handlers accept). */
export function concretePath(pattern: string, alertId: string): string {
  return pattern
    .replace(':id', encodeURIComponent(alertId))
    .replace(':ref', alertRef(alertId))
    .replace(':cluster', 'local')
    .replace(':sessionId', '6b07e26d.1a57');
}

const pct = (c: string) => `%${c.charCodeAt(0).toString(16).padStart(2, '0')}`;
const mapSegments = (path: string, f: (segment: string, i: number) => string) =>
  path
    .split('/')
    .map((s, i) => (s === '' ? s : f(s, i)))
    .join('/');

/** Spellings of one path that a lax router, proxy or prefix check could take for it (or for another one). */
export function pathSpellings(path: string): [string, string][] {
  const [, first = ''] = path.split('/');
  const rest = path.slice(first.length + 1);
  return [
    ['as is', path],
    ['first letter of each segment percent-encoded', mapSegments(path, (s) => `${pct(s[0] ?? '')}${s.slice(1)}`)],
    [
      'first segment percent-encoded in upper-case hex',
      `/${[...first].map((c) => pct(c).toUpperCase()).join('')}${rest}`,
    ],
    ['every character percent-encoded', mapSegments(path, (s) => [...decodeURIComponent(s)].map(pct).join(''))],
    ['double-encoded', `/%25${pct(first[0] ?? '').slice(1)}${first.slice(1)}${rest}`],
    ['leading double slash', `/${path}`],
    ['inner double slash', path.replace(/\/(?=[^/]*$)/, '//')],
    ['trailing slash', `${path}/`],
    ['trailing dot', `${path}.`],
    ['trailing dot on the first segment', `/${first}.${rest}`],
    ['upper case', path.toUpperCase()],
    ['capitalised segments', mapSegments(path, (s) => s.charAt(0).toUpperCase() + s.slice(1))],
    ['matrix parameter at the end', `${path};x=1`],
    ['matrix parameter on the first segment', `/${first};x=1${rest}`],
    ['separator slashes encoded', `/${first}${rest.replaceAll('/', '%2F')}`],
    ['separator slashes encoded, lower-case hex', `/${first}${rest.replaceAll('/', '%2f')}`],
    ['backslash separators', path.replaceAll('/', '\\')],
    ['encoded backslash separators', `/${first}${rest.replaceAll('/', '%5C')}`],
    ['dot segment', `/.${path}`],
    ['encoded dot segment', `/%2e${path}`],
    ['parent segment through a public route', `/metrics/..${path}`],
    ['parent segment, encoded', `/healthz/%2e%2e${path}`],
    ['public route with the path as matrix parameter', `/healthz;${path}`],
    ['public route with the path as query', `/readyz?next=${path}`],
    ['trailing NUL', `${path}%00`],
    ['trailing encoded space', `${path}%20`],
    ['trailing tab', `${path}%09`],
    ['fragment', `${path}#x`],
    [
      'full-width first letter',
      `/${encodeURIComponent(String.fromCharCode((first.charCodeAt(0) || 0x61) + 0xfee0))}${first.slice(1)}${rest}`,
    ],
  ];
}
