import * as zlib from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { loadConfig, validateConfig } from './config.js';
import { kafkaSettings } from './config-fragments.js';

const Schema = z.object({ kafka: kafkaSettings('vigie-test') });

describe('kafka settings', () => {
  it('default to plain TCP, no SASL, no compression, and topics that survive a broker loss', () => {
    const c = validateConfig(Schema, {}, 'test');
    expect(c.kafka).toEqual({
      brokers: ['127.0.0.1:19092'],
      clientId: 'vigie-test',
      compression: 'none',
      topics: { replicationFactor: 3, minInsyncReplicas: 2, allowUnsafe: false },
    });
  });

  it('take TLS and SCRAM settings, the server-name check on unless turned off', () => {
    const c = validateConfig(
      Schema,
      {
        kafka: {
          ssl: { caFile: '/etc/ca.pem' },
          sasl: { username: 'vigie-detector', passwordFile: '/etc/pw' },
        },
      },
      'test',
    );
    expect(c.kafka.ssl).toEqual({ caFile: '/etc/ca.pem', checkServerName: true });
    expect(c.kafka.sasl).toEqual({ mechanism: 'scram-sha-512', username: 'vigie-detector', passwordFile: '/etc/pw' });
  });

  it('list every problem: a client certificate without its key, no or two passwords, an unknown mechanism', () => {
    const problems = (kafka: unknown) => {
      try {
        validateConfig(Schema, { kafka }, 'test');
        return [];
      } catch (error) {
        return (error as { problems: { path: string; expected: string }[] }).problems;
      }
    };
    expect(problems({ ssl: { certFile: '/c.pem' } })).toEqual([
      expect.objectContaining({
        path: 'kafka.ssl',
        expected: 'certFile and keyFile go together (mutual TLS needs both)',
      }),
    ]);
    expect(problems({ sasl: { username: 'u' } }).map((p) => p.expected)).toEqual([
      'exactly one of password (from the environment) or passwordFile',
    ]);
    expect(problems({ sasl: { username: 'u', password: 'a', passwordFile: '/p' } })).toHaveLength(1);
    expect(problems({ sasl: { mechanism: 'gssapi', username: 'u', passwordFile: '/p' } })[0]?.path).toBe(
      'kafka.sasl.mechanism',
    );
    expect(problems({ ssl: { cafile: '/typo.pem' } })[0]?.path).toBe('kafka.ssl');
  });

  it('refuses zstd on a Node without it, and says which Node', () => {
    const hasZstd = typeof (zlib as unknown as { zstdCompress?: unknown }).zstdCompress === 'function';
    const attempt = () => validateConfig(Schema, { kafka: { compression: 'zstd' } }, 'test');
    if (hasZstd) expect(attempt().kafka.compression).toBe('zstd');
    else expect(attempt).toThrow(new RegExp(`zstd needs Node >= 22.15 \\(this is Node ${process.versions.node}\\)`));
  });

  it('takes the password from the environment as written: a secret is never parsed as YAML', () => {
    const password = '012345678901234567890123';
    const c = loadConfig(Schema, {
      env: {
        VIGIE_KAFKA__SASL__USERNAME: 'vigie-collector-pglog',
        VIGIE_KAFKA__SASL__PASSWORD: password,
        VIGIE_KAFKA__TOPICS__ALLOW_UNSAFE: 'true',
      },
    });
    expect(c.kafka.sasl?.password).toBe(password);
    expect(c.kafka.topics.allowUnsafe).toBe(true);
  });
});
