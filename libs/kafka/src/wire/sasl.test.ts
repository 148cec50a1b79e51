import { describe, expect, it } from 'vitest';
import { SaslError, saslName, scram, scramKeys, startSasl } from './sasl.js';

const text = (b: Buffer | undefined) => b?.toString('utf8');

describe('SCRAM (RFC 5802, RFC 7677 test vectors)', () => {
  it('SCRAM-SHA-1: the exchange of RFC 5802 section 5, byte for byte', () => {
    const x = scram('sha1', { username: 'user', password: 'pencil' }, 'fyko+d2lbbFgONRv9qkxdawL');
    expect(text(x.first())).toBe('n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL');
    const final = x.next(Buffer.from('r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096'));
    expect(text(final)).toBe('c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=');
    expect(x.next(Buffer.from('v=rmF9pqV8S7suAoZWja4dJRkFsKQ='))).toBeUndefined();
  });

  it('SCRAM-SHA-256: the exchange of RFC 7677 section 3, byte for byte', () => {
    const x = startSasl({ mechanism: 'SCRAM-SHA-256', username: 'user', password: 'pencil' }, 'rOprNGfwEbeRWgbNEkqO');
    expect(text(x.first())).toBe('n,,n=user,r=rOprNGfwEbeRWgbNEkqO');
    const final = x.next(
      Buffer.from('r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096'),
    );
    expect(text(final)).toBe(
      'c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=',
    );
    expect(x.next(Buffer.from('v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4='))).toBeUndefined();
  });

  it('SCRAM-SHA-512: the proof a server computes from the password matches (no RFC vector exists)', () => {
    const x = startSasl({ mechanism: 'SCRAM-SHA-512', username: 'vigie', password: 'secret' }, 'clientnonce');
    expect(text(x.first())).toBe('n,,n=vigie,r=clientnonce');
    const salt = Buffer.from('0123456789abcdef');
    const serverFirst = `r=clientnonceSERVER,s=${salt.toString('base64')},i=4096`;
    const final = text(x.next(Buffer.from(serverFirst)))!;
    // What a server does with its stored key (RFC 5802 section 3): recover the client key from the proof, hash it.
    const keys = scramKeys('sha512', 'secret', salt, 4096);
    const bare = final.slice(0, final.indexOf(',p='));
    const authMessage = `n=vigie,r=clientnonce,${serverFirst},${bare}`;
    const signature = keys.hmac(keys.storedKey, authMessage);
    const proof = Buffer.from(final.slice(final.indexOf(',p=') + 3), 'base64');
    expect(proof).toHaveLength(64);
    const clientKey = Buffer.from(proof.map((b, i) => b ^ signature[i]!));
    expect(clientKey.equals(keys.clientKey)).toBe(true);
    const serverSignature = keys.hmac(keys.serverKey, authMessage).toString('base64');
    expect(x.next(Buffer.from(`v=${serverSignature}`))).toBeUndefined();
  });

  it('refuses a server that does not prove it knows the password', () => {
    const x = startSasl({ mechanism: 'SCRAM-SHA-256', username: 'user', password: 'pencil' }, 'rOprNGfwEbeRWgbNEkqO');
    x.first();
    x.next(Buffer.from('r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096'));
    expect(() => x.next(Buffer.from('v=AAAAbBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4='))).toThrow(
      /signature does not match/,
    );
  });

  it('refuses a nonce the server did not extend, too few iterations, and a server error', () => {
    const fresh = () => {
      const x = startSasl({ mechanism: 'SCRAM-SHA-512', username: 'u', password: 'p' }, 'abc');
      x.first();
      return x;
    };
    expect(() => fresh().next(Buffer.from('r=xyz123,s=c2FsdA==,i=4096'))).toThrow(/nonce/);
    expect(() => fresh().next(Buffer.from('r=abc123,s=c2FsdA==,i=1'))).toThrow(/1 iterations/);
    expect(() => fresh().next(Buffer.from('e=invalid-proof'))).toThrow(SaslError);
  });

  it('escapes "," and "=" in user names (RFC 5802 5.1)', () => {
    expect(saslName('a,b=c')).toBe('a=2Cb=3Dc');
    const x = startSasl({ mechanism: 'SCRAM-SHA-256', username: 'a,b=c', password: 'p' }, 'n0nce');
    expect(text(x.first())).toBe('n,,n=a=2Cb=3Dc,r=n0nce');
  });
});

describe('PLAIN (RFC 4616)', () => {
  it('sends authzid NUL authcid NUL password in one message', () => {
    const x = startSasl({ mechanism: 'PLAIN', username: 'vigie', password: 'pw' });
    expect(x.first()).toEqual(Buffer.from('\u0000vigie\u0000pw'));
    expect(x.next(Buffer.alloc(0))).toBeUndefined();
  });
});
