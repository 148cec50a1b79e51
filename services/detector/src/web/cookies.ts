/** Reading the `Cookie` header and writing `Set-Cookie` for the evidence pages' session and sign-in cookies. */

/** The cookies of a request (first value wins when a name repeats, as browsers send the most specific first). */
export function parseCookies(header: string | undefined): Map<string, string> {
  const out = new Map<string, string>();
  if (header === undefined) return out;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    const name = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (name !== '' && !out.has(name)) out.set(name, value);
  }
  return out;
}

/** Attributes of a cookie Vigie sets: always `HttpOnly`, `SameSite=Strict`, `Path=/`. */
export interface CookieOptions {
  /** `Secure`: when on-call reaches the detector over TLS (`http.publicUrl` starts with `https:`). */
  secure: boolean;
  /** `Max-Age` in seconds; 0 deletes the cookie. */
  maxAgeSeconds: number;
}

/** A `Set-Cookie` value. The value must be a token Vigie made (base64url): it is written as is. */
export function serializeCookie(name: string, value: string, { secure, maxAgeSeconds }: CookieOptions): string {
  if (!/^[A-Za-z0-9_-]*$/.test(value)) throw new Error('cookie values are base64url tokens');
  return [
    `${name}=${value}`,
    'Path=/',
    'HttpOnly',
    'SameSite=Strict',
    `Max-Age=${Math.max(0, Math.floor(maxAgeSeconds))}`,
    ...(secure ? ['Secure'] : []),
  ].join('; ');
}
