import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '@vigie/runtime';
import { DetectorConfig, LOCAL_STACK_CONNECTIONS } from './config.js';

const TOKEN = 'abcdefghijklmnopqrstuvwx';

function problemsOf(env: Record<string, string>): ConfigError {
  try {
    loadConfig(DetectorConfig, { env });
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return e as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

describe('detector config', () => {
  it('refuses to start without an API token unless anonymous access is allowed', () => {
    expect(problemsOf({ VIGIE_PROFILE: 'local' }).problems.map((p) => p.path)).toEqual(['api.token']);
    const anon = loadConfig(DetectorConfig, {
      env: { VIGIE_PROFILE: 'local', VIGIE_API__ALLOW_ANONYMOUS: 'true' },
    });
    expect(anon.api.allowAnonymous).toBe(true);
  });

  it('has defaults for the local stack with profile: local, and takes overrides from the environment', () => {
    const c = loadConfig(DetectorConfig, {
      env: { VIGIE_PROFILE: 'local', VIGIE_API__TOKEN: TOKEN, VIGIE_HTTP__PORT: '0', VIGIE_STORE__SCHEMA: 't_1' },
    });
    expect(c.profile).toBe('local');
    expect(c.http).toEqual({ host: '127.0.0.1', port: 0 });
    expect(c.kafka.groupId).toBe('vigie-detector');
    expect(c.topics.activity).toBe('vigie.activity.v1');
    expect(c.store.schema).toBe('t_1');
    // Two roles on the local stack: the runtime one reads and writes alerts, the owner migrates.
    expect(c.store.connectionString).toBe(LOCAL_STACK_CONNECTIONS.store);
    expect(c.store.migrationConnectionString).toBe(LOCAL_STACK_CONNECTIONS.storeOwner);
    expect(c.privileged.connectionString).toBe(LOCAL_STACK_CONNECTIONS.privileged);
    expect(c.alertmanager.url).toBe('http://127.0.0.1:19093');
    expect(Object.isFrozen(c.store)).toBe(true);
  });

  it('lists every bad field, without printing the rejected token', () => {
    const error = problemsOf({
      VIGIE_PROFILE: 'local',
      VIGIE_API__TOKEN: 'short-secret',
      VIGIE_STORE__SCHEMA: 'Robert; DROP',
      VIGIE_HTTP__PORT: '99999',
    });
    expect(error.problems.map((p) => p.path).sort()).toEqual(['api.token', 'http.port', 'store.schema']);
    expect(error.message).not.toContain('short-secret');
  });

  it('has no credential defaults outside profile: local, and says what to set', () => {
    // The default profile is production: the local stack's connections (published passwords) are not defaults.
    const error = problemsOf({ VIGIE_API__TOKEN: TOKEN });
    expect(error.problems.map((p) => p.path).sort()).toEqual(['privileged.connectionString', 'store.connectionString']);
    expect(error.message).toContain('profile: local');
    const c = loadConfig(DetectorConfig, {
      env: {
        VIGIE_API__TOKEN: TOKEN,
        VIGIE_STORE__CONNECTION_STRING: 'postgresql://vigie_detector@store.example:5432/vigie',
        // '' = privileged roles from the policy only: an explicit choice, accepted.
        VIGIE_PRIVILEGED__CONNECTION_STRING: "''",
      },
    });
    expect(c.profile).toBe('production');
    expect(c.store.connectionString).toBe('postgresql://vigie_detector@store.example:5432/vigie');
    expect(c.store.migrationConnectionString).toBeUndefined();
    expect(c.privileged.connectionString).toBe('');
  });

  it("refuses to start in production with the local stack's credentials or anonymous access, listing each", () => {
    const error = problemsOf({
      VIGIE_PROFILE: 'production',
      VIGIE_API__TOKEN: TOKEN,
      VIGIE_API__ALLOW_ANONYMOUS: 'true',
      VIGIE_STORE__CONNECTION_STRING: 'postgresql://vigie_detector:vigie_detector@db.example/vigie',
      VIGIE_STORE__MIGRATION_CONNECTION_STRING: LOCAL_STACK_CONNECTIONS.storeOwner,
      VIGIE_PRIVILEGED__CONNECTION_STRING: LOCAL_STACK_CONNECTIONS.privileged,
    });
    expect(error.problems.map((p) => p.path).sort()).toEqual([
      'api.allowAnonymous',
      'privileged.connectionString',
      'store.connectionString',
      'store.migrationConnectionString',
    ]);
    expect(error.message).toContain("the local stack's published credentials");
    // The problem is named, the password is not printed.
    expect(error.message).not.toMatch(/vigie_detector:vigie_detector|vigie:vigie@|vigie_collector:vigie_collector/);
    expect(() =>
      loadConfig(DetectorConfig, {
        env: {
          VIGIE_PROFILE: 'local',
          VIGIE_API__TOKEN: TOKEN,
          VIGIE_STORE__CONNECTION_STRING: 'postgresql://vigie_detector:vigie_detector@127.0.0.1:55432/vigie',
        },
      }),
    ).not.toThrow();
  });
});
