// Running one recorded stream through detector instances of one consumer group, and reading what they decided:
// shared by the scale-out test (small stream) and its benchmark (200,000 events and more).
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { encodeEvent, topicOf, TOPICS, type Alert, type VigieEvent } from '@vigie/contract';
import { partitionForKey } from '@vigie/kafka';
import { waitFor } from '@vigie/runtime';
import { testKafka } from './kafka.js';
import { STACK } from './stack.js';

export const STORE_URL = `postgresql://vigie:vigie@${STACK.pg.host}:${STACK.pg.port}/vigie`;

/** The five topics of one run, `<prefix>.<stream>`. */
function runTopics(prefix: string) {
  return {
    activity: `${prefix}.activity`,
    egress: `${prefix}.egress`,
    changes: `${prefix}.changes`,
    alerts: `${prefix}.alerts`,
    deadletter: `${prefix}.deadletter`,
  };
}
export type RunTopics = ReturnType<typeof runTopics>;

/** One run of detector instances over a recorded stream: its settings, topics, consumer group and store schema. */
export interface ScaleRun {
  prefix: string;
  /** The detector settings: its topics, group and store schema, every instance the same. */
  config: Record<string, unknown>;
  topics: RunTopics;
  groupId: string;
  schema: string;
}

/**
 * Creates a run: its topics now, `partitions` each (instances starting together would race to create them), and the
 * detector settings for them — no Alertmanager (the store is what is compared), ticks an hour apart so that no
 * resolution depends on when a tick happens to fall (a quiet time or a grace run out on the wall clock): what is
 * compared is what the events decided.
 */
export async function createRun(o: {
  prefix: string;
  partitions: number;
  token: string;
  sessionTimeoutMs?: number;
}): Promise<ScaleRun> {
  const topics = runTopics(o.prefix);
  const groupId = `${o.prefix}-group`;
  const schema = o.prefix.replace(/[^a-z0-9_]/g, '_');
  const config = {
    profile: 'local',
    cluster: 'scale-local',
    api: { token: o.token },
    http: { port: 0 },
    kafka: {
      brokers: [...STACK.kafkaBrokers],
      groupId,
      partitions: o.partitions,
      topics: { replicationFactor: 1, minInsyncReplicas: 1, allowUnsafe: true },
      ...(o.sessionTimeoutMs !== undefined && { sessionTimeoutMs: o.sessionTimeoutMs }),
    },
    topics,
    store: { connectionString: STORE_URL, schema },
    alertmanager: { url: '' },
    privileged: { connectionString: '' },
    engine: { tickIntervalMs: 3_600_000 },
    log: { level: 'info' },
  };
  const admin = testKafka().admin();
  await admin.connect();
  try {
    await admin.createTopics({
      waitForLeaders: true,
      topics: Object.values(topics).map((topic) => ({ topic, numPartitions: o.partitions })),
    });
  } finally {
    await admin.disconnect();
  }
  return { prefix: o.prefix, config, topics, groupId, schema };
}

/** The partitions a detector process last said it owns, from its log ("consumer group assignment applied"). */
export function partitionsInLog(log: string): number[] {
  const applied = log.split('\n').filter((l) => l.includes('consumer group assignment applied'));
  const last = applied[applied.length - 1];
  return last === undefined ? [] : (JSON.parse(last) as { partitions: number[] }).partitions;
}

/** Writes a site policy object as a file (JSON is valid YAML) and returns its path. */
export function writePolicyFile(policy: unknown): string {
  const file = join(mkdtempSync(join(tmpdir(), 'vigie-scale-')), 'policy.yaml');
  writeFileSync(file, JSON.stringify(policy));
  return file;
}

/**
 * Produces events as the collectors do: each to its kind's topic, in the partition of its cluster (murmur2 of the
 * cluster's name over `partitions`), the session in the key. `from`/`to` select a slice (in order).
 */
export async function produceStream(
  topics: RunTopics,
  events: readonly VigieEvent[],
  partitions: number,
  { from = 0, to = events.length }: { from?: number; to?: number } = {},
): Promise<void> {
  const nameOf = new Map<string, string>([
    [TOPICS.activity, topics.activity],
    [TOPICS.changes, topics.changes],
    [TOPICS.egress, topics.egress],
  ]);
  const producer = testKafka('vigie-scale').producer({ allowAutoTopicCreation: false, idempotent: true });
  await producer.connect();
  try {
    for (let i = from; i < to; i += 2_000) {
      const byTopic = new Map<string, { key: string; value: Buffer; partition: number }[]>();
      for (const e of events.slice(i, Math.min(i + 2_000, to))) {
        const topic = nameOf.get(topicOf(e.kind)) as string;
        let list = byTopic.get(topic);
        if (!list) byTopic.set(topic, (list = []));
        list.push({
          key: `${e.cluster}/${e.session?.id ?? e.kind}`,
          value: encodeEvent(e),
          partition: partitionForKey(e.cluster, partitions),
        });
      }
      // One topic after the other, in order: each partition keeps its events' order.
      for (const [topic, messages] of byTopic) {
        for (let j = 0; j < messages.length; j += 500) {
          await producer.send({ topic, acks: -1, messages: messages.slice(j, j + 500) });
        }
      }
    }
  } finally {
    await producer.disconnect();
  }
}

/** Messages the group has not committed yet on the input topics (0: everything produced was consumed). */
export async function groupLag(groupId: string, topics: RunTopics): Promise<number> {
  const admin = testKafka().admin();
  await admin.connect();
  try {
    let behind = 0;
    for (const topic of [topics.activity, topics.changes, topics.egress]) {
      const [ends, committed] = await Promise.all([
        admin.fetchTopicOffsets(topic),
        admin.fetchOffsets({ groupId, topics: [topic] }),
      ]);
      const done = new Map(committed[0]?.partitions.map((p) => [p.partition, Number(p.offset)]) ?? []);
      for (const e of ends) behind += Math.max(0, Number(e.high) - Math.max(done.get(e.partition) ?? -1, 0));
    }
    return behind;
  } finally {
    await admin.disconnect();
  }
}

/** Waits until the group has consumed and committed everything produced. */
export async function waitDrained(groupId: string, topics: RunTopics, timeoutMs = 300_000): Promise<void> {
  await waitFor(async () => (await groupLag(groupId, topics)) === 0, {
    timeoutMs,
    intervalMs: 250,
    what: `group ${groupId} to consume every input message`,
  });
}

/**
 * Waits until the instances' partitions form one assignment of all `partitions`, each instance with its share
 * (no instance idle, none with more than its share): the group is stable and nobody joins any more.
 */
export async function waitBalanced(
  owned: () => Promise<number[][]>,
  partitions: number,
  timeoutMs = 120_000,
): Promise<number[][]> {
  let last: number[][] = [];
  await waitFor(
    async () => {
      last = await owned();
      const all = last.flat().sort((a, b) => a - b);
      const share = Math.ceil(partitions / last.length);
      return (
        all.length === partitions &&
        all.every((p, i) => p === i) &&
        last.every((o) => o.length > 0 && o.length <= share)
      );
    },
    {
      timeoutMs,
      intervalMs: 100,
      what: `a balanced assignment of ${partitions} partitions (last: ${JSON.stringify(last)})`,
    },
  );
  return last;
}

/** What two runs must agree on about an alert (the revision number may differ: when updates are held is clock work). */
export interface AlertOutcome {
  rule: string;
  severity: string;
  status: string;
  what: Alert['what'];
  who: Alert['who'];
  summary: string;
}

/** Every alert of a run's store, by id, as {@link AlertOutcome}. */
export async function storedOutcomes(schema: string): Promise<Map<string, AlertOutcome>> {
  const client = new pg.Client({ connectionString: STORE_URL });
  await client.connect();
  try {
    const { rows } = await client.query<{ body: Alert }>(
      `SELECT COALESCE(pending, body) AS body FROM "${schema}".alerts`,
    );
    return new Map(
      rows
        .map((r) => r.body)
        .sort((a, b) => a.id.localeCompare(b.id))
        .map((a) => [
          a.id,
          { rule: a.rule, severity: a.severity, status: a.status, what: a.what, who: a.who, summary: a.summary },
        ]),
    );
  } finally {
    await client.end();
  }
}

/** Removes a run's topics and store schema. */
export async function dropRun(run: Pick<ScaleRun, 'topics' | 'schema'>): Promise<void> {
  const admin = testKafka().admin();
  await admin.connect();
  await admin.deleteTopics({ topics: Object.values(run.topics) }).catch(() => undefined);
  await admin.disconnect();
  const client = new pg.Client({ connectionString: STORE_URL });
  await client.connect();
  await client.query(`DROP SCHEMA IF EXISTS "${run.schema}" CASCADE`);
  await client.end();
}

/** The differences between two runs' outcomes, one line each (empty: the same answers). */
export function outcomeDifferences(
  expected: ReadonlyMap<string, AlertOutcome>,
  actual: ReadonlyMap<string, AlertOutcome>,
): string[] {
  const out: string[] = [];
  for (const [id, e] of expected) {
    const a = actual.get(id);
    if (a === undefined) out.push(`missing ${id}`);
    else if (JSON.stringify(a) !== JSON.stringify(e))
      out.push(`differs ${id}: ${JSON.stringify(e)} vs ${JSON.stringify(a)}`);
  }
  for (const id of actual.keys()) if (!expected.has(id)) out.push(`extra ${id}`);
  return out;
}
