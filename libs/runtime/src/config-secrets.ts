import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

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

/** Where {@link pgPasswordFor} found a password. */
export type PasswordSource = 'password file' | 'PGPASSWORD' | 'PGPASSFILE' | '~/.pgpass';

/** What a `postgres://` URL connects to, with libpq's environment fallbacks, for a `.pgpass` lookup. */
export function pgConnectionTarget(
  url: URL,
  env: Record<string, string | undefined>,
): { host: string; port: string; database: string; user: string } {
  const param = (name: string) => url.searchParams.get(name) ?? undefined;
  const user =
    (url.username !== '' ? decodeURIComponent(url.username) : param('user')) ?? env['PGUSER'] ?? env['USER'] ?? '';
  const host =
    (url.hostname !== '' ? url.hostname.replace(/^\[|\]$/g, '') : param('host')) ?? env['PGHOST'] ?? 'localhost';
  const database =
    (url.pathname.length > 1 ? decodeURIComponent(url.pathname.slice(1)) : param('dbname')) ??
    env['PGDATABASE'] ??
    user;
  return { host, port: url.port !== '' ? url.port : (param('port') ?? env['PGPORT'] ?? '5432'), database, user };
}

/**
 * The password of a `.pgpass` file for a target, as libpq reads it: `host:port:database:user:password` lines, `*`
 * matches anything, `\:` and `\\` escape, the first matching line wins, `#` lines are comments.
 */
export function pgpassLookup(
  text: string,
  target: { host: string; port: string; database: string; user: string },
): string | undefined {
  for (const line of text.split(/\r?\n/)) {
    if (line === '' || line.startsWith('#')) continue;
    const fields: string[] = [''];
    for (let i = 0; i < line.length; i += 1) {
      const c = line[i] as string;
      if (c === '\\' && i + 1 < line.length) fields[fields.length - 1] += line[++i] as string;
      else if (c === ':' && fields.length < 5) fields.push('');
      else fields[fields.length - 1] += c;
    }
    if (fields.length < 5) continue;
    const [host, port, database, user, password] = fields as [string, string, string, string, string];
    const matches = (pattern: string, value: string) => pattern === '*' || pattern === value;
    if (
      matches(host, target.host) &&
      matches(port, target.port) &&
      matches(database, target.database) &&
      matches(user, target.user)
    ) {
      return password;
    }
  }
  return undefined;
}

/** A password found for a connection, where it came from, and what the user should know (ignored files). */
export interface FoundPassword {
  password: string | undefined;
  source: PasswordSource | undefined;
  warnings: string[];
}

/** Reads a file holding a secret; a warning when others than its owner may read it (libpq ignores .pgpass then). */
function readSecretFile(file: string): { text: string; open: boolean } {
  const open = (statSync(file).mode & 0o077) !== 0;
  return { text: readFileSync(file, 'utf8'), open };
}

/**
 * The password for a `postgres://` URL that carries none, the way a PostgreSQL client finds one without putting
 * it on a command line (visible to every local user in `ps` and `/proc/<pid>/cmdline`): an explicit password
 * file, else `PGPASSWORD`, else `PGPASSFILE` or `~/.pgpass` (ignored, with a warning, when group or world can
 * read it, as libpq does). Throws the file system error of an explicit password file that cannot be read.
 */
export function pgPasswordFor(
  url: URL,
  { env, passwordFile }: { env: Record<string, string | undefined>; passwordFile?: string | undefined },
): FoundPassword {
  const warnings: string[] = [];
  if (passwordFile !== undefined) {
    const { text, open } = readSecretFile(passwordFile);
    if (open) warnings.push(`${passwordFile} can be read by others than its owner: chmod 600 it`);
    return { password: text.split(/\r?\n/, 1)[0] ?? '', source: 'password file', warnings };
  }
  const fromEnv = env['PGPASSWORD'];
  if (fromEnv !== undefined && fromEnv !== '') return { password: fromEnv, source: 'PGPASSWORD', warnings };
  const pgpass = env['PGPASSFILE'] ?? (env['HOME'] !== undefined ? join(env['HOME'], '.pgpass') : undefined);
  if (pgpass === undefined) return { password: undefined, source: undefined, warnings };
  let file: { text: string; open: boolean };
  try {
    file = readSecretFile(pgpass);
  } catch {
    return { password: undefined, source: undefined, warnings };
  }
  if (file.open) {
    warnings.push(`${pgpass} is ignored: group or world can read it (chmod 600 it)`);
    return { password: undefined, source: undefined, warnings };
  }
  const password = pgpassLookup(file.text, pgConnectionTarget(url, env));
  return {
    password,
    source: password === undefined ? undefined : env['PGPASSFILE'] !== undefined ? 'PGPASSFILE' : '~/.pgpass',
    warnings,
  };
}
