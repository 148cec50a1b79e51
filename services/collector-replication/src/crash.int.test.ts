import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type pg from 'pg';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeEvent } from '@vigie/contract';
import { waitFor } from '@vigie/runtime';
import { REPO_ROOT, readTopic } from '@vigie/testkit';
import type { ReplicationConfig } from './config.js';
import { ensureReplication } from './setup-replication.js';
import {
  admin,
  createTestDatabase,
  dropLeftovers,
  dropTestDatabase,
  testConfig,
  testLogger,
} from '../test-support/fixtures.js';

// The real process, killed with SIGKILL: no stop handler runs, nothing is flushed. Uses the built CLI (npm test runs
// `tsc -b` first).
const CLI = join(REPO_ROOT, 'services/cli/bin/vigie.js');

let database: string;
let config: ReplicationConfig;
let dir: string;
let db: pg.Client;
const children = new Set<ChildProcess>();
let loading = false;

beforeAll(async () => {
  await dropLeftovers();
  database = await createTestDatabase();
  db = await admin(database);
  await db.query('CREATE TABLE ledger (id bigserial PRIMARY KEY, xid bigint NOT NULL, pad text)');
  config = testConfig({ database, cluster: 'crash1' });
  // The slot must exist before the load starts: what is committed before a slot is created is never decoded.
  await ensureReplication({
    connection: { ...config.connection },
    setup: { ...config.connection, ...config.setup },
    slot: config.slot,
    publication: config.publication,
    logger: testLogger(),
  });
  dir = mkdtempSync(join(tmpdir(), 'vigie-crash-'));
  writeFileSync(join(dir, 'collector.yaml'), stringify({ ...config, batch: { maxEvents: 50, maxPending: 500 } }));
  writeFileSync(join(dir, 'policy.yaml'), stringify({ clusters: [{ name: 'crash1', environment: 'production' }] }));
});

afterAll(async () => {
  loading = false;
  for (const c of children) c.kill('SIGKILL');
  await db?.end();
  if (database) await dropTestDatabase(database);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Starts the collector process; resolves once it says it started. */
async function spawnCollector(env: Record<string, string> = {}): Promise<ChildProcess> {
  const child = spawn(
    process.execPath,
    [
      CLI,
      'run',
      'collector-replication',
      '--config',
      join(dir, 'collector.yaml'),
      '--policy',
      join(dir, 'policy.yaml'),
    ],
    { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  children.add(child);
  child.on('exit', () => children.delete(child));
  let out = '';
  await new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes('collector-replication started')) resolve();
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.once('exit', (code, signal) =>
      code === null && signal === 'SIGKILL' ? resolve() : reject(new Error(`collector exited ${code}: ${out}`)),
    );
  });
  return child;
}

function killed(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
  });
}

describe('kill -9', () => {
  it('loses no committed transaction: killed after the Kafka ack, and at random points under load', async () => {
    // Load: single-row and multi-row transactions, each recording its own xid, until told to stop.
    loading = true;
    let committed = 0;
    const loader = (async () => {
      for (let i = 0; loading; i += 1) {
        const rows = i % 10 === 0 ? 20 : 1;
        await db.query(
          `INSERT INTO ledger (xid, pad) SELECT txid_current(), repeat('p', 100) FROM generate_series(1, ${rows})`,
        );
        committed += 1;
      }
    })();
    // Awaited below; this only keeps an early failure of the test from surfacing as an unhandled rejection.
    void loader.catch(() => undefined);

    // 1. Dies right after Kafka acknowledged a batch, before the LSN is confirmed (fault hook), three times.
    for (const n of [1, 3, 7]) {
      const child = await spawnCollector({ VIGIE_TEST_KILL_AFTER_KAFKA_ACKS: String(n) });
      await killed(child);
      expect(child.signalCode).toBe('SIGKILL');
    }
    // 2. SIGKILL at random moments while it streams.
    for (let i = 0; i < 4; i += 1) {
      const child = await spawnCollector();
      await new Promise((r) => setTimeout(r, 200 + Math.floor(Math.random() * 1200)));
      child.kill('SIGKILL');
      await killed(child);
    }
    loading = false;
    await loader;
    expect(committed).toBeGreaterThan(100);

    // 3. A clean run drains the rest; every transaction committed at the source must be in Kafka.
    const child = await spawnCollector();
    const { rows } = await db.query<{ xid: string }>('SELECT DISTINCT (xid & 4294967295)::text AS xid FROM ledger');
    const expected = new Set(rows.map((r) => Number(r.xid)));
    expect(expected.size).toBe(committed);
    const seen = new Map<number, number>();
    let read = 0;
    await readTopic(
      config.topics.changes,
      (ms) => {
        // Called with everything read so far (once per batch): count only what arrived since the last call.
        for (; read < ms.length; read += 1) {
          const m = ms[read];
          const d = m?.value ? decodeEvent(m.value) : undefined;
          if (d?.ok && d.value.kind === 'change.txn') seen.set(d.value.xid, (seen.get(d.value.xid) ?? 0) + 1);
        }
        return [...expected].every((x) => seen.has(x));
      },
      { timeoutMs: 60_000 },
    );
    const missing = [...expected].filter((x) => !seen.has(x));
    const duplicates = [...seen.values()].filter((n) => n > 1).length;
    console.log(
      `kill -9: ${expected.size} committed, ${missing.length} missing (${missing.slice(0, 5).join(',')}…), ` +
        `${duplicates} delivered twice or more; xids ${Math.min(...expected)}..${Math.max(...expected)}`,
    );
    expect(missing).toEqual([]);
    child.kill('SIGTERM');
    await waitFor(() => child.exitCode !== null, { timeoutMs: 20_000, what: 'clean stop' });
    expect(child.exitCode).toBe(0);
  });
});
