// The client side of the SASL mechanisms Kafka offers with passwords: PLAIN (RFC 4616) and SCRAM-SHA-256 /
// SCRAM-SHA-512 (RFC 5802, RFC 7677). Pure: messages in, messages out; the connection carries them in
// SaslAuthenticate requests. No channel binding (Kafka's SCRAM does not support it: gs2 header "n,,").
import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';
import { VigieError } from '@vigie/errors';
import { KAFKA_ERRORS } from '../errors.js';

/** The mechanisms the producer speaks, by their SASL names (what SaslHandshake sends). */
export type SaslMechanismName = 'PLAIN' | 'SCRAM-SHA-256' | 'SCRAM-SHA-512';

/** Who authenticates. The password only ever goes into the mechanism's messages (never into a log or an error). */
export interface SaslCredentials {
  mechanism: SaslMechanismName;
  username: string;
  password: string;
}

/**
 * One authentication exchange: `first()` is the client's first message; each server answer goes to `next()`,
 * which returns the client's next message, or `undefined` when the exchange is complete and the server proved
 * itself. Throws {@link SaslError} when the server's answer is malformed or does not prove it knows the password.
 */
export interface SaslExchange {
  first(): Buffer;
  next(server: Buffer): Buffer | undefined;
}

/**
 * The server's answer did not follow the mechanism, or it failed to prove it knows the credentials
 * (`VIGIE_KAFKA_AUTH`, not retriable).
 */
export class SaslError extends VigieError {
  constructor(message: string) {
    super(KAFKA_ERRORS.AUTH, message);
    this.name = 'SaslError';
  }
}

/** Starts an exchange for these credentials. `nonce` is for tests (RFC vectors); production draws 24 random bytes. */
export function startSasl(credentials: SaslCredentials, nonce?: string): SaslExchange {
  switch (credentials.mechanism) {
    case 'PLAIN':
      return plain(credentials);
    case 'SCRAM-SHA-256':
      return scram('sha256', credentials, nonce);
    case 'SCRAM-SHA-512':
      return scram('sha512', credentials, nonce);
  }
}

function plain({ username, password }: SaslCredentials): SaslExchange {
  return {
    // authzid (empty) NUL authcid NUL password
    first: () => Buffer.from(`\u0000${username}\u0000${password}`, 'utf8'),
    next: () => undefined,
  };
}

/** RFC 5802 5.1: "," and "=" in a user name are written =2C and =3D. */
export const saslName = (name: string): string => name.replace(/=/g, '=3D').replace(/,/g, '=2C');

/** The attributes of a SCRAM message (`a=value,b=value`); values may contain "=". */
function attributes(message: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of message.split(',')) {
    const eq = part.indexOf('=');
    if (eq !== 1) throw new SaslError(`malformed SCRAM attribute ${JSON.stringify(part.slice(0, 20))}`);
    out.set(part[0]!, part.slice(2));
  }
  return out;
}

/** Hi(), HMAC() and H() of RFC 5802 section 2.2, for one hash. */
export function scramKeys(hash: 'sha1' | 'sha256' | 'sha512', password: string, salt: Buffer, iterations: number) {
  const length = createHash(hash).digest().length;
  // No SASLprep: Kafka's own client and broker hash the password's UTF-8 bytes as they are (ScramFormatter), and a
  // credential made with kafka-configs must match.
  const salted = pbkdf2Sync(Buffer.from(password, 'utf8'), salt, iterations, length, hash);
  const hmac = (key: Buffer, text: string) => createHmac(hash, key).update(text, 'utf8').digest();
  const clientKey = hmac(salted, 'Client Key');
  return {
    clientKey,
    storedKey: createHash(hash).update(clientKey).digest(),
    serverKey: hmac(salted, 'Server Key'),
    hmac,
  };
}

/** The SCRAM client (RFC 5802 section 3), for SHA-1 (RFC vectors only), SHA-256 and SHA-512. */
export function scram(
  hash: 'sha1' | 'sha256' | 'sha512',
  { username, password }: Pick<SaslCredentials, 'username' | 'password'>,
  nonce = randomBytes(24).toString('base64'),
): SaslExchange {
  const gs2 = 'n,,';
  const clientFirstBare = `n=${saslName(username)},r=${nonce}`;
  let expectedServerSignature: Buffer | undefined;
  let step = 0;
  return {
    first: () => Buffer.from(gs2 + clientFirstBare, 'utf8'),
    next(serverMessage) {
      const text = serverMessage.toString('utf8');
      const a = attributes(text);
      const error = a.get('e');
      if (error !== undefined) throw new SaslError(`the server refused the authentication: ${error}`);
      if (step === 0) {
        step = 1;
        const serverNonce = a.get('r');
        const salt = a.get('s');
        const iterations = Number(a.get('i'));
        if (!serverNonce?.startsWith(nonce) || serverNonce.length <= nonce.length) {
          throw new SaslError('the server nonce does not extend the client nonce');
        }
        if (!salt || !Number.isInteger(iterations) || iterations < 1) {
          throw new SaslError('the server sent no salt or no iteration count');
        }
        // RFC 7677 asks for at least 4096; Kafka's minimum is 4096 too: fewer is a downgrade, not a server choice.
        if (iterations < 4096) throw new SaslError(`the server asks for ${iterations} iterations (at least 4096)`);
        const keys = scramKeys(hash, password, Buffer.from(salt, 'base64'), iterations);
        const clientFinalBare = `c=${Buffer.from(gs2).toString('base64')},r=${serverNonce}`;
        const authMessage = `${clientFirstBare},${text},${clientFinalBare}`;
        const signature = keys.hmac(keys.storedKey, authMessage);
        const proof = Buffer.alloc(keys.clientKey.length);
        for (let i = 0; i < proof.length; i += 1) proof[i] = keys.clientKey[i]! ^ signature[i]!;
        expectedServerSignature = keys.hmac(keys.serverKey, authMessage);
        return Buffer.from(`${clientFinalBare},p=${proof.toString('base64')}`, 'utf8');
      }
      if (step === 1) {
        step = 2;
        const verifier = Buffer.from(a.get('v') ?? '', 'base64');
        const expected = expectedServerSignature!;
        // The server proves it knows the password too: a man in the middle that only relays cannot.
        if (verifier.length !== expected.length || !timingSafeEqual(verifier, expected)) {
          throw new SaslError('the server signature does not match: the server does not know these credentials');
        }
        return undefined;
      }
      throw new SaslError('the server sent a message after the exchange was complete');
    },
  };
}
