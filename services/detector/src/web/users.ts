import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { ConfigError, type ConfigProblem } from '@vigie/runtime';

/** One person allowed to sign in to the evidence pages and call the API, as the configuration lists them. */
export interface ApiUserSetting {
  name: string;
  token?: string | undefined;
  tokenFile?: string | undefined;
}

/** Who a token belongs to; `shared` for the single `api.token`. */
export interface TokenOwner {
  name: string;
  shared: boolean;
}

/** Says whose token a string is, in constant time over every configured token; undefined when nobody's. */
export type TokenCheck = (given: string) => TokenOwner | undefined;

const digest = (s: string) => createHash('sha256').update(s).digest();

/**
 * Reads `api.users[].tokenFile` (trimmed) at startup. Throws a ConfigError listing every file that cannot be read or
 * holds a token shorter than 16 characters.
 */
export function resolveUsers(users: readonly ApiUserSetting[]): { name: string; token: string }[] {
  const problems: ConfigProblem[] = [];
  const out: { name: string; token: string }[] = [];
  users.forEach((user, i) => {
    let token = user.token;
    if (token === undefined && user.tokenFile !== undefined) {
      try {
        token = readFileSync(user.tokenFile, 'utf8').trim();
      } catch (error) {
        problems.push({
          path: `api.users.${i}.tokenFile`,
          expected: 'a readable file holding the token',
          found: `${user.tokenFile} (${(error as { code?: string }).code ?? 'unreadable'})`,
        });
        return;
      }
    }
    if (token === undefined || token.length < 16) {
      problems.push({
        path: `api.users.${i}.${user.tokenFile !== undefined ? 'tokenFile' : 'token'}`,
        expected: 'a token of at least 16 characters',
        found: token === undefined ? 'nothing' : `${token.length} characters`,
      });
      return;
    }
    out.push({ name: user.name, token });
  });
  if (problems.length > 0) throw new ConfigError('api.users', problems);
  return out;
}

/**
 * The token check of the API and the sign-in page: the shared `api.token` and each user's token. Every candidate is
 * compared (SHA-256 digests, equal lengths) whatever matched, so timing tells neither which nor how close.
 */
export function createTokenCheck(
  sharedToken: string | undefined,
  users: readonly { name: string; token: string }[],
): TokenCheck {
  const candidates = [
    ...(sharedToken !== undefined ? [{ owner: { name: 'api-token', shared: true }, digest: digest(sharedToken) }] : []),
    ...users.map((u) => ({ owner: { name: u.name, shared: false }, digest: digest(u.token) })),
  ];
  return (given) => {
    const d = digest(given);
    let found: TokenOwner | undefined;
    for (const c of candidates) if (timingSafeEqual(d, c.digest) && found === undefined) found = c.owner;
    return found;
  };
}
