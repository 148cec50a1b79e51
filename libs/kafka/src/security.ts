import { readFileSync } from 'node:fs';
import type { ConnectionOptions as TlsOptions } from 'node:tls';
import { ConfigError, type ConfigProblem } from '@vigie/runtime';
import type { SaslCredentials, SaslMechanismName } from './wire/sasl.js';

/** `kafka.ssl`: TLS to the brokers (see `kafkaSslSettings` in @vigie/runtime for each field). */
export interface KafkaSslSettings {
  caFile?: string | undefined;
  certFile?: string | undefined;
  keyFile?: string | undefined;
  serverName?: string | undefined;
  checkServerName?: boolean | undefined;
}

/** `kafka.sasl`: who the service is to Kafka. The password comes from the environment or a file. */
export interface KafkaSaslSettings {
  mechanism?: 'plain' | 'scram-sha-256' | 'scram-sha-512' | undefined;
  username: string;
  password?: string | undefined;
  passwordFile?: string | undefined;
}

/** TLS options and SASL credentials, files read: what a connection needs. */
export interface KafkaSecurity {
  tls: TlsOptions | undefined;
  sasl: SaslCredentials | undefined;
}

const MECHANISMS: Record<NonNullable<KafkaSaslSettings['mechanism']>, SaslMechanismName> = {
  plain: 'PLAIN',
  'scram-sha-256': 'SCRAM-SHA-256',
  'scram-sha-512': 'SCRAM-SHA-512',
};

/**
 * Reads the files `kafka.ssl` and `kafka.sasl` name, once, at startup. A file that cannot be read stops the service
 * with every such problem listed (VIGIE_CONFIG_INVALID, exit 2); the password file's content never appears in a
 * message. The server-name check stays on unless `checkServerName: false` (the chain is verified either way).
 */
export function resolveKafkaSecurity(
  { ssl, sasl }: { ssl?: KafkaSslSettings | undefined; sasl?: KafkaSaslSettings | undefined },
  read: (file: string) => string = (file) => readFileSync(file, 'utf8'),
): KafkaSecurity {
  const problems: ConfigProblem[] = [];
  const file = (path: string, name: string | undefined, expected: string): string | undefined => {
    if (name === undefined) return undefined;
    try {
      return read(name);
    } catch (error) {
      problems.push({ path, expected, found: `${name}: ${(error as NodeJS.ErrnoException).code ?? 'unreadable'}` });
      return undefined;
    }
  };
  let tls: TlsOptions | undefined;
  if (ssl) {
    const ca = file('kafka.ssl.caFile', ssl.caFile, 'a readable PEM file of CA certificates');
    const cert = file('kafka.ssl.certFile', ssl.certFile, 'a readable PEM client certificate');
    const key = file('kafka.ssl.keyFile', ssl.keyFile, 'a readable PEM private key');
    tls = {
      rejectUnauthorized: true,
      ...(ca === undefined ? {} : { ca }),
      ...(cert === undefined ? {} : { cert }),
      ...(key === undefined ? {} : { key }),
      ...(ssl.serverName === undefined ? {} : { servername: ssl.serverName }),
      ...(ssl.checkServerName === false ? { checkServerIdentity: () => undefined } : {}),
    };
  }
  let credentials: SaslCredentials | undefined;
  if (sasl) {
    let password = sasl.password;
    if (sasl.passwordFile !== undefined) {
      password = file('kafka.sasl.passwordFile', sasl.passwordFile, 'a readable file holding the password')?.replace(
        /\r?\n$/,
        '',
      );
      if (password === '') {
        problems.push({ path: 'kafka.sasl.passwordFile', expected: 'a password', found: 'an empty file' });
      }
    }
    credentials = {
      mechanism: MECHANISMS[sasl.mechanism ?? 'scram-sha-512'],
      username: sasl.username,
      password: password ?? '',
    };
  }
  if (problems.length > 0) throw new ConfigError('kafka settings', problems);
  return { tls, sasl: credentials };
}
