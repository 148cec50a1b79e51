import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '@vigie/runtime';
import { DetectorConfig } from './config.js';

describe('detector config', () => {
  it('refuses to start without an API token unless anonymous access is allowed', () => {
    let error: unknown;
    try {
      loadConfig(DetectorConfig, { env: {} });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems.map((p) => p.path)).toEqual(['api.token']);
    const anon = loadConfig(DetectorConfig, { env: { VIGIE_API__ALLOW_ANONYMOUS: 'true' } });
    expect(anon.api.allowAnonymous).toBe(true);
  });

  it('has defaults for the local stack and takes overrides from the environment', () => {
    const c = loadConfig(DetectorConfig, {
      env: { VIGIE_API__TOKEN: 'abcdefghijklmnopqrstuvwx', VIGIE_HTTP__PORT: '0', VIGIE_STORE__SCHEMA: 't_1' },
    });
    expect(c.http).toEqual({ host: '127.0.0.1', port: 0 });
    expect(c.kafka.groupId).toBe('vigie-detector');
    expect(c.topics.activity).toBe('vigie.activity.v1');
    expect(c.store.schema).toBe('t_1');
    expect(c.alertmanager.url).toBe('http://127.0.0.1:19093');
    expect(Object.isFrozen(c.store)).toBe(true);
  });

  it('lists every bad field', () => {
    expect(() =>
      loadConfig(DetectorConfig, {
        env: { VIGIE_API__TOKEN: 'short', VIGIE_STORE__SCHEMA: 'Robert; DROP', VIGIE_HTTP__PORT: '99999' },
      }),
    ).toThrow(/api\.token[\s\S]*store\.schema|store\.schema[\s\S]*api\.token/);
  });
});
