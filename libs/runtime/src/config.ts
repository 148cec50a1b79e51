import { readFileSync } from 'node:fs';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import type { z } from 'zod';
import { HIDDEN, hideSecrets, isSecretName } from './config-secrets.js';
import { ConfigError, type ConfigProblem } from './errors.js';

/** Where a service's configuration comes from. */
export interface ConfigSources {
  /** YAML file; absent means defaults plus environment. */
  file?: string | undefined;
  /** Environment (normally `process.env`, passed in by `main.ts`, the only reader of `process.env`). */
  env?: Record<string, string | undefined>;
  /** Prefix of override variables: `VIGIE_KAFKA__BROKERS` sets `kafka.brokers` with prefix `VIGIE_`. */
  envPrefix?: string;
}

function describeFound(value: unknown): string {
  if (value === undefined) return 'nothing';
  const text = JSON.stringify(hideSecrets(value));
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

function typeOf(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return `a list of ${value.length}`;
  if (typeof value === 'object') return 'a mapping';
  return typeof value === 'number' || typeof value === 'boolean' ? JSON.stringify(value) : `a ${typeof value}`;
}

/**
 * What a problem says was found, without secrets: nothing under a secret-named setting, only the type when the
 * type is wrong (`api: <the token>` written where a mapping belongs), connection-string passwords hidden elsewhere.
 */
function describeProblemValue(value: unknown, path: PropertyKey[], code: string): string {
  if (path.some(isSecretName)) return value === undefined ? 'nothing' : HIDDEN;
  if (code === 'invalid_type') return typeOf(value);
  return describeFound(value);
}

function valueAt(root: unknown, path: PropertyKey[]): unknown {
  let cur: unknown = root;
  for (const key of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[key];
  }
  return cur;
}

function camel(segment: string): string {
  return segment.toLowerCase().replace(/_([a-z0-9])/g, (_m, c: string) => c.toUpperCase());
}

/** Settings whose environment value is a secret string, never parsed. */
const SECRET_KEY = /(password|token|secret|hmacKey)$/i;

/**
 * Applies `PREFIX_A__B_C=value` as `a.bC = value` and `PREFIX_SERVER_PORT=value` as `serverPort = value`; values
 * are read as YAML scalars or flow collections, so `VIGIE_KAFKA__BROKERS='[127.0.0.1:19092]'` gives a list and
 * `VIGIE_HTTP__PORT=0` a number. Variables naming no setting of the service (`VIGIE_POLICY`, `VIGIE_STACK_DIR`) are
 * dropped by the schema, which keeps only the keys it knows.
 */
export function applyEnvOverrides(
  base: Record<string, unknown>,
  env: Record<string, string | undefined>,
  prefix: string,
): Record<string, unknown> {
  const out: Record<string, unknown> = structuredClone(base);
  for (const [name, raw] of Object.entries(env)) {
    if (!name.startsWith(prefix) || raw === undefined || name.length === prefix.length) continue;
    const path = name.slice(prefix.length).split('__').map(camel);
    let cur: Record<string, unknown> = out;
    for (const key of path.slice(0, -1)) {
      const next = cur[key];
      if (next === null || typeof next !== 'object' || Array.isArray(next)) cur[key] = {};
      cur = cur[key] as Record<string, unknown>;
    }
    const key = path[path.length - 1] as string;
    let value: unknown = raw;
    // A secret is taken as written: read as YAML, `VIGIE_KAFKA__SASL__PASSWORD=0123456789012345678901` would become
    // a number, digits lost.
    if (!SECRET_KEY.test(key)) {
      try {
        value = parseYaml(raw);
      } catch {
        // Not YAML: keep the raw string; the schema says whether a string is acceptable here.
      }
    }
    cur[key] = value;
  }
  return out;
}

/**
 * Reads a configuration file's text; a file that cannot be read is a ConfigError naming what was expected and the
 * errno found, never a stack trace.
 */
export function readConfigText(file: string, expected: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (cause) {
    const reason = (cause as NodeJS.ErrnoException).code ?? 'unreadable';
    throw new ConfigError(file, [{ path: '', expected, found: reason }]);
  }
}

/** Reads a YAML file into an object; every problem becomes a ConfigError, never a stack trace. */
export function readYamlFile(file: string): Record<string, unknown> {
  const text = readConfigText(file, 'a readable YAML file');
  try {
    const doc: unknown = parseYaml(text);
    if (doc === null || doc === undefined) return {};
    if (typeof doc !== 'object' || Array.isArray(doc)) {
      // The type only: a file holding nothing but a token or a password is not echoed.
      throw new ConfigError(file, [{ path: '', expected: 'a YAML mapping', found: typeOf(doc) }]);
    }
    return doc as Record<string, unknown>;
  } catch (cause) {
    if (cause instanceof ConfigError) throw cause;
    const where = cause instanceof YAMLParseError ? `line ${cause.linePos?.[0]?.line ?? '?'}` : 'YAML';
    throw new ConfigError(file, [
      {
        path: '',
        expected: 'valid YAML',
        found: `a syntax error at ${where}: ${(cause as Error).message.split('\n')[0]}`,
      },
    ]);
  }
}

/** Validates a raw object against a schema, listing every problem with its path, what was expected and found. */
export function validateConfig<S extends z.ZodType>(schema: S, raw: unknown, source: string): Readonly<z.infer<S>> {
  const result = schema.safeParse(raw);
  if (result.success) return deepFreeze(result.data);
  const problems: ConfigProblem[] = result.error.issues.map((issue) => ({
    path: issue.path.map(String).join('.'),
    expected: issue.message,
    found: describeProblemValue(valueAt(raw, issue.path), issue.path, issue.code),
  }));
  throw new ConfigError(source, problems);
}

/** Loads, merges (file < environment) and validates a service configuration. Throws {@link ConfigError}. */
export function loadConfig<S extends z.ZodType>(schema: S, sources: ConfigSources = {}): Readonly<z.infer<S>> {
  const fromFile = sources.file ? readYamlFile(sources.file) : {};
  const merged = applyEnvOverrides(fromFile, sources.env ?? {}, sources.envPrefix ?? 'VIGIE_');
  return validateConfig(schema, merged, sources.file ?? 'defaults + environment');
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
