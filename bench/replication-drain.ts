// Drains one backlog of ≥ 1,000,000 row changes (pgoutput) with four consumers, each from its own slot created
// before the load, one after the other so each has the machine to itself:
//   collector      the collector's decode + aggregate path (source + aggregator), confirming as it goes, no Kafka
//   collector+kafka the whole collector (createReplicationCollector): events to Kafka, confirmations after acks
//   bare-lib       a bare pg-logical-replication 2.5.0 loop counting changes: acknowledgements off (the
//                  reference for the ratios), with the library's default options (one status message per message),
//                  and with flow control on (the option the collector must use: one awaited emit per message)
//   pg_recvlogical the PostgreSQL client writing the pgoutput stream to /dev/null (proto_version=1)
// Prints changes/s and the ratio of each to the bare library (goal ≥ 0.8 for the collector).
// The 2-core dev box is shared with other test runs, so one drain can be 2x slower than the next: each round loads
// a fresh backlog and runs the consumers in a rotated order; the table shows the median of the rounds.
// Run (shared stack up): npm run bench -- replication-drain [rows=1000000] [rowsPerTxn=1000] [rounds=3]
// Uses database bench_repl on the shared cluster; its slots are dropped at the end even on failure.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import pg from 'pg';
import { LogicalReplicationService, PgoutputPlugin, type Pgoutput } from 'pg-logical-replication';
import { compilePolicy, SitePolicy } from '@vigie/policy';
import {
  createReplicationCollector,
  createReplicationSource,
  createTxnAggregator,
  ReplicationConfig,
  parseLsn,
} from '@vigie/collector-replication';
import { createLogger, waitFor } from '@vigie/runtime';
import { LOCAL_KAFKA_TOPICS, ROLES, STACK, uniqueName } from '@vigie/testkit';

const run = promisify(execFile);
const ROWS = Number(process.argv[2] ?? 1_000_000);
const PER_TXN = Number(process.argv[3] ?? 1000);
const ROUNDS = Number(process.argv[4] ?? 3);
const DB = 'bench_repl';
const PUB = 'vigie_bench_pub';
const SLOTS = {
  collector: 'vigie_bench_collector',
  collectorKafka: 'vigie_bench_collector_kafka',
  bare: 'vigie_bench_bare',
  bareNoAck: 'vigie_bench_bare_noack',
  bareFlow: 'vigie_bench_bare_flow',
  recvlogical: 'vigie_bench_recvlogical',
};
const conn = { host: STACK.pg.host, port: STACK.pg.port, user: ROLES.superuser, password: ROLES.superuser };
const logger = createLogger('bench', { level: 'warn' });

async function client(database: string): Promise<pg.Client> {
  const c = new pg.Client({ ...conn, database });
  await c.connect();
  return c;
}

async function dropSlots(c: pg.Client): Promise<void> {
  await c.query(
    `SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name LIKE 'vigie_bench_%' AND NOT active`,
  );
}

async function prepare(): Promise<{ target: bigint }> {
  const admin = await client('postgres');
  try {
    await dropSlots(admin);
    const exists = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [DB]);
    if (exists.rowCount === 0) await admin.query(`CREATE DATABASE ${DB}`);
  } finally {
    await admin.end();
  }
  const db = await client(DB);
  try {
    await db.query(`CREATE TABLE IF NOT EXISTS bench_rows (id bigint, n int, h text, label text)`);
    await db.query('TRUNCATE bench_rows');
    if ((await db.query('SELECT 1 FROM pg_publication WHERE pubname = $1', [PUB])).rowCount === 0) {
      await db.query(`CREATE PUBLICATION ${PUB} FOR ALL TABLES`);
    }
    for (const slot of Object.values(SLOTS)) {
      await db.query("SELECT pg_create_logical_replication_slot($1, 'pgoutput')", [slot]);
    }
    const t0 = Date.now();
    // One procedure-style loop, committing every PER_TXN rows: ROWS/PER_TXN transactions in the backlog.
    await db.query(`DO $$ BEGIN FOR i IN 0..${Math.ceil(ROWS / PER_TXN) - 1} LOOP
        INSERT INTO bench_rows SELECT g, g % 1000, md5(g::text), 'label ' || g
          FROM generate_series(i * ${PER_TXN} + 1, (i + 1) * ${PER_TXN}) g;
        COMMIT; END LOOP; END $$`);
    const { rows } = await db.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn');
    console.log(
      `backlog: ${ROWS} inserts in ${Math.ceil(ROWS / PER_TXN)} transactions, loaded in ${Date.now() - t0} ms`,
    );
    return { target: parseLsn(rows[0]!.lsn) };
  } finally {
    await db.end();
  }
}

/** The collector's own decode + aggregate path, confirming each commit at once (no Kafka). */
async function collectorPath(): Promise<number> {
  const aggregator = createTxnAggregator({
    cluster: 'bench',
    messagePrefix: 'vigie',
    maxMessages: 20,
    maxMessageChars: 500,
    scanPersonalData: false,
  });
  let rows = 0;
  let done!: () => void;
  const finished = new Promise<void>((r) => (done = r));
  const source = createReplicationSource({
    connection: { ...conn, database: DB },
    slot: SLOTS.collector,
    publication: PUB,
    logger,
    handler: {
      onMessage(lsn, m: Pgoutput.Message) {
        switch (m.tag) {
          case 'begin':
            return aggregator.begin(m.xid, m.commitLsn, m.commitTime as bigint);
          case 'insert':
            return aggregator.change('insert', m.relation, m.new);
          case 'update':
            return aggregator.change('update', m.relation, m.new);
          case 'delete':
            return aggregator.change('delete', m.relation, null);
          case 'commit': {
            const t = aggregator.commit(m.commitEndLsn, lsn);
            rows += t.event.totalRows;
            source.confirm(t.ackLsn);
            if (rows >= ROWS) done();
            return;
          }
          default:
            return;
        }
      },
      onDisconnect: () => aggregator.reset(),
      isSettled: () => !aggregator.open,
    },
  });
  const t0 = process.hrtime.bigint();
  source.start();
  await finished;
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  await source.stop();
  return ms;
}

/** The whole collector, Kafka included: done when the slot is confirmed past the backlog. */
async function collectorWithKafka(target: bigint): Promise<number> {
  const config = ReplicationConfig.parse({
    cluster: 'bench',
    connection: { ...conn, database: DB },
    slot: SLOTS.collectorKafka,
    publication: PUB,
    topics: { changes: uniqueName('vigie.bench.changes'), activity: uniqueName('vigie.bench.activity') },
    health: { intervalMs: 600_000 },
    http: { port: 0 },
    kafka: { topics: LOCAL_KAFKA_TOPICS },
  });
  const policy = compilePolicy(SitePolicy.parse({ clusters: [{ name: 'bench', environment: 'production' }] }));
  const collector = createReplicationCollector(config, { logger, policy, http: false });
  await collector.start();
  const t0 = process.hrtime.bigint();
  await waitFor(() => collector.confirmedLsn >= target, { timeoutMs: 600_000, intervalMs: 10, what: 'drained' });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  await collector.stop();
  return ms;
}

/**
 * A bare pg-logical-replication loop counting inserts: with its default options (it then sends a standby status
 * message after every message), or with acknowledgements off (pure receive + decode, the fastest the library goes).
 */
async function bareLibrary(mode: 'defaults' | 'no-ack' | 'flow-control'): Promise<number> {
  const service =
    mode === 'defaults'
      ? new LogicalReplicationService({ ...conn, database: DB })
      : new LogicalReplicationService(
          { ...conn, database: DB },
          { acknowledge: { auto: false, timeoutSeconds: 0 }, flowControl: { enabled: mode === 'flow-control' } },
        );
  const plugin = new PgoutputPlugin({ protoVersion: 1, publicationNames: [PUB] });
  let rows = 0;
  const t0 = process.hrtime.bigint();
  await new Promise<void>((resolve, reject) => {
    service.on('data', (_lsn: string, m: Pgoutput.Message) => {
      if (m.tag === 'insert') rows += 1;
      else if (m.tag === 'commit' && rows >= ROWS) resolve();
    });
    service.on('error', reject);
    const slot = mode === 'defaults' ? SLOTS.bare : mode === 'no-ack' ? SLOTS.bareNoAck : SLOTS.bareFlow;
    service.subscribe(plugin, slot).catch(reject);
  });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  await service.stop();
  return ms;
}

/** pg_recvlogical to /dev/null, stopping at the backlog's end position. */
async function recvlogical(target: bigint): Promise<number> {
  const endpos = `${(target >> 32n).toString(16)}/${(target & 0xffffffffn).toString(16)}`;
  const t0 = process.hrtime.bigint();
  await run(
    'pg_recvlogical',
    [
      '-d',
      `host=${conn.host} port=${conn.port} user=${conn.user} dbname=${DB}`,
      '--slot',
      SLOTS.recvlogical,
      '--start',
      '-o',
      'proto_version=1',
      '-o',
      `publication_names=${PUB}`,
      '--endpos',
      endpos,
      '-f',
      '/dev/null',
      '--no-loop',
    ],
    { env: { ...process.env, PGPASSWORD: conn.password } },
  );
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

async function oneRound(round: number): Promise<Map<string, number>> {
  const { target } = await prepare();
  const consumers: [string, () => Promise<number>][] = [
    ['bare-lib (no acknowledgements)', () => bareLibrary('no-ack')],
    ['bare-lib (default options)', () => bareLibrary('defaults')],
    ['bare-lib (flow control, no acks)', () => bareLibrary('flow-control')],
    ['collector (decode+aggregate, no Kafka)', () => collectorPath()],
    ['collector + Kafka (end to end)', () => collectorWithKafka(target)],
    ['pg_recvlogical', () => recvlogical(target)],
  ];
  const order = consumers.map((_, i) => consumers[(i + round) % consumers.length]!);
  const out = new Map<string, number>();
  try {
    for (const [name, fn] of order) out.set(name, await fn());
  } finally {
    const admin = await client('postgres');
    await dropSlots(admin).finally(() => admin.end());
  }
  console.log(
    `round ${round + 1}: ${order.map(([n]) => `${n.split(' ')[0]}${n.includes('(') ? n.slice(n.indexOf('(')) : ''}=${Math.round(ROWS / (out.get(n)! / 1000))}/s`).join(', ')}`,
  );
  return out;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
};

async function main(): Promise<void> {
  const rounds: Map<string, number>[] = [];
  for (let r = 0; r < ROUNDS; r += 1) rounds.push(await oneRound(r));
  const names = [...rounds[0]!.keys()];
  const ms = new Map(names.map((n) => [n, median(rounds.map((r) => r.get(n)!))]));
  const ref = ms.get('bare-lib (no acknowledgements)')!;
  const refDefault = ms.get('bare-lib (default options)')!;
  const refFlow = ms.get('bare-lib (flow control, no acks)')!;
  console.log(
    `\nmedian of ${ROUNDS} rounds, ${ROWS} changes each\n${'consumer'.padEnd(40)}${'ms'.padStart(8)}${'changes/s'.padStart(11)}` +
      `${'vs no-ack'.padStart(11)}${'vs default'.padStart(12)}${'vs flow'.padStart(9)}`,
  );
  for (const [name, t] of ms) {
    const rate = Math.round(ROWS / (t / 1000));
    console.log(
      `${name.padEnd(40)}${t.toFixed(0).padStart(8)}${String(rate).padStart(11)}` +
        `${(ref / t).toFixed(2).padStart(10)}x${(refDefault / t).toFixed(2).padStart(11)}x${(refFlow / t).toFixed(2).padStart(8)}x`,
    );
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
