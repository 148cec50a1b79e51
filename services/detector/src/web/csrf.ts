import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * CSRF tokens for the evidence pages' forms. A token is an HMAC, under a key that lives only in this process, of
 * what the form is bound to: the session id once signed in, the sign-in cookie's nonce before. A forged form from
 * another site cannot know either (both are HttpOnly, SameSite=Strict cookies), and a token from one session is
 * worthless in another.
 */
export interface Csrf {
  /** The token to put in a form bound to `binding`. */
  issue(binding: string): string;
  /** Whether `given` is the token of `binding` (constant time). */
  verify(binding: string | undefined, given: unknown): boolean;
}

/** Creates the CSRF token maker; a restart changes the key (open forms then need a reload). */
export function createCsrf(key: Buffer = randomBytes(32)): Csrf {
  const issue = (binding: string) => createHmac('sha256', key).update(binding).digest('base64url');
  return {
    issue,
    verify(binding, given) {
      if (binding === undefined || typeof given !== 'string') return false;
      const expected = Buffer.from(issue(binding));
      const actual = Buffer.from(given);
      return actual.length === expected.length && timingSafeEqual(actual, expected);
    },
  };
}
