/**
 * One rule for what is a secret in a configuration, so that no error message, log line or echo prints one: a
 * setting whose name says it holds a credential, and the password inside a connection string.
 */

// `hmacKey`, `api.token`, `password`, `clientSecret`, `privateKeyPassphrase`, any future `*Key`/`*Token`/…
const SECRET_NAME = /(password|passwd|passphrase|token|secret|key|credential)/i;

/** The text shown instead of a secret value. */
export const HIDDEN = '<hidden>';

/** Whether a setting of this name holds a secret (the shared rule; no per-field list to forget). */
export function isSecretName(name: string | number | symbol): boolean {
  return typeof name === 'string' && SECRET_NAME.test(name);
}

// scheme://user:password@host — keep the user, hide the password.
const URL_PASSWORD = /([a-z][a-z0-9+.-]*:\/\/[^:/?#@\s]*:)[^@/?#\s]*@/gi;
// key=value connection strings and URL query parameters: password=…, sslpassword=…
const KEYWORD_PASSWORD =
  /((?:^|[\s?&;])[a-z_]*(?:password|passwd|token|secret)[a-z_]*\s*=\s*)('(?:[^'\\]|\\.)*'|[^\s&;]*)/gi;

/** A string with the passwords of any connection strings in it replaced by {@link HIDDEN}. */
export function hideConnectionPasswords(text: string): string {
  return text.replace(URL_PASSWORD, `$1${HIDDEN}@`).replace(KEYWORD_PASSWORD, `$1${HIDDEN}`);
}

/** A deep copy of a configuration value with secret-named members and connection-string passwords hidden. */
export function hideSecrets(value: unknown, name?: string | number): unknown {
  if (name !== undefined && isSecretName(name) && value !== undefined && value !== null && value !== '') {
    return HIDDEN;
  }
  if (typeof value === 'string') return hideConnectionPasswords(value);
  if (Array.isArray(value)) return value.map((v) => hideSecrets(v));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, hideSecrets(v, k)]));
  }
  return value;
}

/** User and password written into a `postgres://` URL (undefined when it is not one, or has none). */
export function connectionCredentials(connectionString: string): { user?: string; password?: string } | undefined {
  let url: URL;
  try {
    url = new URL(connectionString);
  } catch {
    return undefined;
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') return undefined;
  const decode = (s: string) => {
    try {
      return decodeURIComponent(s);
    } catch {
      return s;
    }
  };
  const password = url.password !== '' ? decode(url.password) : (url.searchParams.get('password') ?? undefined);
  const user = url.username !== '' ? decode(url.username) : (url.searchParams.get('user') ?? undefined);
  return { ...(user !== undefined ? { user } : {}), ...(password !== undefined ? { password } : {}) };
}
