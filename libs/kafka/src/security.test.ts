import { describe, expect, it } from 'vitest';
import { resolveKafkaSecurity } from './security.js';

const files: Record<string, string> = {
  '/ca.pem': 'CA PEM',
  '/client.pem': 'CERT PEM',
  '/client.key': 'KEY PEM',
  '/pw': 'the password\n',
  '/empty': '\n',
};
const read = (file: string) => {
  const text = files[file];
  if (text === undefined) throw Object.assign(new Error('nope'), { code: 'ENOENT' });
  return text;
};

describe('resolveKafkaSecurity', () => {
  it('reads the CA, the client certificate and key, and the password file (its trailing newline dropped)', () => {
    const s = resolveKafkaSecurity(
      {
        ssl: { caFile: '/ca.pem', certFile: '/client.pem', keyFile: '/client.key', serverName: 'kafka.example.org' },
        sasl: { mechanism: 'scram-sha-256', username: 'vigie-detector', passwordFile: '/pw' },
      },
      read,
    );
    expect(s.tls).toEqual({
      rejectUnauthorized: true,
      ca: 'CA PEM',
      cert: 'CERT PEM',
      key: 'KEY PEM',
      servername: 'kafka.example.org',
    });
    expect(s.sasl).toEqual({ mechanism: 'SCRAM-SHA-256', username: 'vigie-detector', password: 'the password' });
  });

  it('keeps the certificate chain check when the name check is turned off', () => {
    const { tls } = resolveKafkaSecurity({ ssl: { caFile: '/ca.pem', checkServerName: false } }, read);
    expect(tls?.rejectUnauthorized).toBe(true);
    expect(tls?.checkServerIdentity?.('anything', {} as never)).toBeUndefined();
  });

  it('lists every unreadable file as a configuration problem, never a file content', () => {
    let error: { code?: string; problems?: unknown[]; message?: string } | undefined;
    try {
      resolveKafkaSecurity(
        { ssl: { caFile: '/missing-ca.pem' }, sasl: { username: 'u', passwordFile: '/missing-pw' } },
        read,
      );
    } catch (e) {
      error = e as typeof error;
    }
    expect(error?.code).toBe('VIGIE_CONFIG_INVALID');
    expect(error?.problems).toEqual([
      {
        path: 'kafka.ssl.caFile',
        expected: 'a readable PEM file of CA certificates',
        found: '/missing-ca.pem: ENOENT',
      },
      {
        path: 'kafka.sasl.passwordFile',
        expected: 'a readable file holding the password',
        found: '/missing-pw: ENOENT',
      },
    ]);
    expect(() => resolveKafkaSecurity({ sasl: { username: 'u', passwordFile: '/empty' } }, read)).toThrow(
      /kafka\.sasl\.passwordFile: expected a password, found an empty file/,
    );
  });

  it('is plain TCP without SASL when neither block is given', () => {
    expect(resolveKafkaSecurity({}, read)).toEqual({ tls: undefined, sasl: undefined });
  });
});
