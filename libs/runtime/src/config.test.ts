import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { applyEnvOverrides, loadConfig } from './config.js';
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
