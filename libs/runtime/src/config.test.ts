import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { applyEnvOverrides, loadConfig, validateConfig } from './config.js';
import {
  connectionCredentials,
  hideConnectionPasswords,
  isSecretName,
  pgConnectionTarget,
  pgpassLookup,
} from './config-secrets.js';
import { ConfigError } from './errors.js';

const Schema = z.object({
  kafka: z
    .object({
      brokers: z.array(z.string()).min(1).default(['127.0.0.1:19092']).describe('bootstrap brokers'),
      clientId: z.string().default('vigie'),
    })
    .prefault({}),
  http: z.object({ port: z.number().int().min(0).max(65535).default(18081) }).prefault({}),
  cluster: z.string().min(1).default('local'),
});

function yamlFile(text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'vigie-config-'));
  const file = join(dir, 'config.yaml');
  writeFileSync(file, text);
  return file;
}

describe('loadConfig', () => {
  it('fills defaults and freezes the result', () => {
    const config = loadConfig(Schema);
    expect(config).toEqual({
      kafka: { brokers: ['127.0.0.1:19092'], clientId: 'vigie' },
      http: { port: 18081 },
      cluster: 'local',
    });
    expect(Object.isFrozen(config.kafka)).toBe(true);
  });

  it('lets the environment override the file, with YAML-typed values', () => {
    const file = yamlFile('cluster: prod-a\nhttp:\n  port: 9000\n');
    const config = loadConfig(Schema, {
      file,
      env: { VIGIE_HTTP__PORT: '9100', VIGIE_KAFKA__BROKERS: '[a:1, b:2]', VIGIE_KAFKA__CLIENT_ID: 'x', OTHER: 'y' },
    });
    expect(config.cluster).toBe('prod-a');
    expect(config.http.port).toBe(9100);
    expect(config.kafka).toEqual({ brokers: ['a:1', 'b:2'], clientId: 'x' });
  });

  it('lists every problem with its path, what was expected and what was found', () => {
    const file = yamlFile('cluster: ""\nhttp:\n  port: 70000\nkafka:\n  brokers: []\n');
    let error: unknown;
    try {
      loadConfig(Schema, { file });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems;
    expect(problems.map((p) => p.path).sort()).toEqual(['cluster', 'http.port', 'kafka.brokers']);
    expect(problems.find((p) => p.path === 'http.port')?.found).toBe('70000');
    expect((error as ConfigError).message).toContain(file);
    expect((error as ConfigError).code).toBe('VIGIE_CONFIG_INVALID');
  });

  it('reports a YAML syntax error and a missing file as configuration problems', () => {
    expect(() => loadConfig(Schema, { file: yamlFile('http: [unclosed\n') })).toThrowError(/valid YAML/);
    expect(() => loadConfig(Schema, { file: '/nonexistent/vigie.yaml' })).toThrowError(/ENOENT/);
  });

  it('applies top-level settings from single-segment variables', () => {
    const config = loadConfig(Schema, { env: { VIGIE_CLUSTER: 'prod-b', VIGIE_POLICY: '/etc/vigie/p.yaml' } });
    expect(config.cluster).toBe('prod-b');
    expect(config).not.toHaveProperty('policy');
    expect(applyEnvOverrides({}, { VIGIE_SERVER_PORT: '5433' }, 'VIGIE_')).toEqual({ serverPort: 5433 });
  });

  it('does not mutate its input when applying overrides', () => {
    const base = { http: { port: 1 } };
    applyEnvOverrides(base, { VIGIE_HTTP__PORT: '2' }, 'VIGIE_');
    expect(base.http.port).toBe(1);
  });
});

describe('secrets in configuration errors', () => {
  const Secretive = z.object({
    api: z.object({ token: z.string().min(16, 'a token of at least 16 characters').optional() }).prefault({}),
    redaction: z.object({ hmacKey: z.string().min(32, 'a key of at least 32 characters').optional() }).prefault({}),
    store: z
      .object({ connectionString: z.url('a postgresql:// URL').refine((s) => s.endsWith('/vigie'), 'database vigie') })
      .prefault({ connectionString: 'postgresql://127.0.0.1/vigie' }),
    replication: z
      .object({ password: z.string().max(5), user: z.string() })
      .strict()
      .optional(),
    clientSecret: z.number().optional(),
  });

  function problemsOf(raw: unknown): string {
    try {
      validateConfig(Secretive, raw, 'test');
    } catch (e) {
      return (e as ConfigError).message;
    }
    throw new Error('expected a ConfigError');
  }

  it('never prints a rejected secret, whatever the field or the problem', () => {
    const message = problemsOf({
      api: { token: 'tok-short-1' },
      redaction: { hmacKey: 'hmac-too-short-2' },
      store: { connectionString: 'postgresql://vigie:S3cret-pass-3@db.example:5432/other' },
      replication: { password: 'long-password-4', user: 'repl', extra: { password: 'nested-5' } },
      clientSecret: 'not-a-number-6',
    });
    // Every problem is listed, with its path…
    for (const path of ['api.token', 'redaction.hmacKey', 'store.connectionString', 'replication.password']) {
      expect(message).toContain(`${path}:`);
    }
    expect(message).toContain('clientSecret: expected');
    expect(message).toContain('replication: expected');
    // …and no secret value appears in it.
    for (const secret of [
      'tok-short-1',
      'hmac-too-short-2',
      'S3cret-pass-3',
      'long-password-4',
      'nested-5',
      'not-a-number-6',
    ]) {
      expect(message).not.toContain(secret);
    }
    // What is not secret still helps: the user, host and database of the connection string.
    expect(message).toContain('postgresql://vigie:<hidden>@db.example:5432/other');
  });

  it('prints only the type of a value written where a mapping belongs (it may be the secret itself)', () => {
    const message = problemsOf({ api: 'a-token-written-one-level-too-high', redaction: ['k'] });
    expect(message).toContain('api: expected');
    expect(message).toContain('found a string');
    expect(message).toContain('found a list of 1');
    expect(message).not.toContain('a-token-written');
  });

  it('does not echo a YAML document that is a bare scalar (a token file given as configuration)', () => {
    let message = '';
    try {
      loadConfig(Schema, { file: yamlFile('ghp_0123456789abcdefSECRET\n') });
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toContain('expected a YAML mapping, found a string');
    expect(message).not.toContain('SECRET');
  });

  it('names secrets by one shared rule and finds passwords in connection strings', () => {
    for (const name of ['token', 'hmacKey', 'password', 'clientSecret', 'apiKey', 'setupPassword', 'credentials']) {
      expect(isSecretName(name), name).toBe(true);
    }
    for (const name of ['connectionString', 'user', 'host', 'brokers', 'schema']) {
      expect(isSecretName(name), name).toBe(false);
    }
    expect(hideConnectionPasswords('postgres://u:p%40ss@h/db and host=h password=s3 user=u')).toBe(
      'postgres://u:<hidden>@h/db and host=h password=<hidden> user=u',
    );
    expect(hideConnectionPasswords('postgresql://u@h/db?sslmode=require&password=x1&user=u')).toBe(
      'postgresql://u@h/db?sslmode=require&password=<hidden>&user=u',
    );
    expect(connectionCredentials('postgresql://vigie:vi%3Agie@127.0.0.1/vigie')).toEqual({
      user: 'vigie',
      password: 'vi:gie',
    });
    expect(connectionCredentials('postgresql://h/db?user=a&password=b')).toEqual({ user: 'a', password: 'b' });
    expect(connectionCredentials('postgresql://u@h/db')).toEqual({ user: 'u' });
    expect(connectionCredentials('not a url')).toBeUndefined();
  });
});

describe('.pgpass lookup', () => {
  const target = { host: 'db.example', port: '5432', database: 'app', user: 'dba' };
  it('matches the first line whose fields match, with * and escapes, as libpq does', () => {
    const text = [
      '# comment',
      'db.example:5432:other:dba:no',
      'db.example:*:app:dba:p\\:a\\\\ss',
      '*:*:*:*:fallback',
    ].join('\n');
    expect(pgpassLookup(text, target)).toBe('p:a\\ss');
    expect(pgpassLookup(text, { ...target, user: 'x' })).toBe('fallback');
    expect(pgpassLookup('db.example:5432:app:dba\n', target)).toBeUndefined();
  });
  it('reads the target from the URL with libpq environment fallbacks', () => {
    expect(pgConnectionTarget(new URL('postgresql://dba@[::1]/app'), {})).toEqual({
      host: '::1',
      port: '5432',
      database: 'app',
      user: 'dba',
    });
    expect(pgConnectionTarget(new URL('postgresql:///?host=/run/pg'), { PGUSER: 'u', PGPORT: '6000' })).toEqual({
      host: '/run/pg',
      port: '6000',
      database: 'u',
      user: 'u',
    });
  });
});
