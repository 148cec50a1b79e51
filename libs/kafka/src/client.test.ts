import { createLogger } from '@vigie/runtime';
import { afterEach, describe, expect, it } from 'vitest';
import { createKafka } from './client.js';
import { startFakeCluster, type FakeCluster } from '../test-support/fake-broker.js';
import { ensureTopics } from './topics.js';

const logger = createLogger('test', { level: 'silent' });
let cluster: FakeCluster | undefined;
afterEach(async () => {
  await cluster?.close();
});

describe('the kafkajs client', () => {
  it('refuses a response frame above the cap before buffering it (a hostile or confused peer)', async () => {
    cluster = await startFakeCluster({ script: (r) => (r.apiKey === 18 ? { kind: 'huge-frame' } : undefined) });
    const kafka = createKafka({ brokers: cluster.brokers, clientId: 'test', connectionTimeoutMs: 1000 }, logger);
    await expect(ensureTopics(kafka, ['t'], { retryForMs: 0 })).rejects.toMatchObject({
      code: 'VIGIE_KAFKA_FRAME_TOO_LARGE',
      message: expect.stringMatching(/1073741824 bytes exceeds the 67108864-byte cap/),
    });
  });

  it('reads ordinary answers through the same capped sockets', async () => {
    cluster = await startFakeCluster({ topics: { t: { partitions: 2 } } });
    const admin = createKafka({ brokers: cluster.brokers, clientId: 'test' }, logger).admin();
    await admin.connect();
    try {
      const { topics } = await admin.fetchTopicMetadata({ topics: ['t'] });
      expect(topics.map((t) => [t.name, t.partitions.length])).toEqual([['t', 2]]);
    } finally {
      await admin.disconnect();
    }
  });
});
