import { describe, expect, it } from 'vitest';
import { TOPICS } from '@vigie/contract';
import { ReplicationConfig } from './config.js';

describe('ReplicationConfig', () => {
  it('has working defaults for the local stack', () => {
    const c = ReplicationConfig.parse({});
    expect(c).toMatchObject({
      cluster: 'local',
      slot: 'vigie_slot',
      publication: 'vigie_pub',
      connection: { host: '127.0.0.1', port: 55432, database: 'app', user: 'vigie_collector' },
      topics: { changes: TOPICS.changes, activity: TOPICS.activity },
      personalData: { scan: 'auto' },
    });
    expect(c.setup).toBeUndefined();
  });

  it('refuses slot and publication names that could not be used safely in replication commands and DDL', () => {
    const r = ReplicationConfig.safeParse({ slot: 'x"; DROP', publication: 'Pub' });
    expect(r.success).toBe(false);
    expect(r.error?.issues.map((i) => i.path.join('.')).sort()).toEqual(['publication', 'slot']);
  });

  it('explains an impossible batch setting', () => {
    const r = ReplicationConfig.safeParse({ batch: { maxEvents: 100, maxPending: 10 } });
    expect(r.error?.issues[0]?.message).toMatch(/must not exceed batch.maxPending/);
  });
});
