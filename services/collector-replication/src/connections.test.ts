import { describe, expect, it } from 'vitest';
import { ReplicationConfig } from './config.js';
import { replicationConnections, scansPersonalDataIn } from './connections.js';

describe('replicationConnections', () => {
  it('gives the setup role the collector connection with its own user and password', () => {
    const config = ReplicationConfig.parse({
      connection: { password: 'c' },
      setup: { user: 'vigie_setup', password: 's' },
    });
    const { connection, setup } = replicationConnections(config);
    expect(connection).toEqual({
      host: '127.0.0.1',
      port: 55432,
      database: 'app',
      user: 'vigie_collector',
      password: 'c',
    });
    expect(setup).toEqual({ ...connection, user: 'vigie_setup', password: 's' });
  });

  it('has no setup connection without a setup role, and never lends the collector password to the setup role', () => {
    expect(replicationConnections(ReplicationConfig.parse({})).setup).toBeUndefined();
    const { setup } = replicationConnections(
      ReplicationConfig.parse({ connection: { password: 'c' }, setup: { user: 'vigie_setup' } }),
    );
    expect(setup).toMatchObject({ user: 'vigie_setup', password: undefined });
  });
});

describe('scansPersonalDataIn', () => {
  it('scans when forced on, or on auto in pre-production only', () => {
    expect(scansPersonalDataIn('on', 'production')).toBe(true);
    expect(scansPersonalDataIn('auto', 'pre-production')).toBe(true);
    expect(scansPersonalDataIn('auto', 'production')).toBe(false);
    expect(scansPersonalDataIn('auto', undefined)).toBe(false);
    expect(scansPersonalDataIn('off', 'pre-production')).toBe(false);
  });
});
