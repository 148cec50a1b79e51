// `npm run bench -- pglog-throughput [--records N] [--reuse] [--profile <dir>] [--e2e-only] [--rounds R] [--help]`:
// collector-pglog against its peers, in one run.
//
// 1. Generates a real log with the real server: pgbench (TPC-B and select-only, pgaudit on) in a dedicated database
//    `bench_pglog`, plus a pg_dump, until ≥ N records (default 500,000); copies that stretch of the shared server
//    log (jsonlog and csvlog, the same records) to bench/out/pglog/ (`--reuse` keeps the files already there). The
//    stack is the one in VIGIE_STACK_DIR (default <repo>/.stack), as for deploy/local/stack.sh.
// 2. Reads both files once (the page cache is warm before any clock starts), then measures, each in its own process
//    (peak RSS per phase), interleaved for R rounds (default 2; best of R per phase, min–max printed: the box is
//    shared): the floor — a bare read + split + JSON.parse of the jsonlog, the work no jsonlog reader avoids —,
//    collector-pglog's parse + analyze + redact pipeline without Kafka on jsonlog and csvlog (clocked after the SQL
//    analyzer's one-time WebAssembly load); then the real collector end to end into the shared Kafka (unique topic),
//    run as `vigie run collector-pglog` in its own process (CPU and peak RSS from its /proc; `--profile <dir>` adds
//    `--cpu-prof` to it) — over the plain listener, over SASL_SSL (TLS + SCRAM-SHA-512 as vigie-collector-pglog),
//    and over SASL_SSL with gzip (and zstd where Node has it), interleaved R rounds (best, least CPU, of R per
//    variant), with the bytes the broker stored per event; pgBadger 12 (`-j 1`) on the csvlog and the jsonlog.
//    `--e2e-only` measures the jsonlog pipeline once (for the event count) and the Kafka variants, nothing else.
// 3. Prints records/s and the ratios against the goals (≥ 4× pgBadger on csvlog, ≥ 0.5× the bare loop on jsonlog,
//    ≥ 100,000 events/s per core into Kafka over SASL_SSL, peak RSS ≤ 150 MB).
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createLogParser, RecordSplitter, type LogFormat } from '@vigie/pglog';
import { ZSTD_AVAILABLE, ensureTopics, createKafka } from '@vigie/kafka';
import { createLogger, waitFor } from '@vigie/runtime';
import { createSqlAnalyzer } from '@vigie/sql';
import {
  chunks,
  countLines,
  ensurePeers,
  generate,
  OUT,
  pgbadger,
  ROOT,
  STACK_DIR,
  type Phase,
} from './lib/pglog-sample.js';

/** How the end-to-end collector reaches Kafka. */
interface KafkaVariant {
  name: string;
  /** The `kafka:` block of its configuration (YAML flow text). */
  kafka: string;
  /** Topic prefixes its user may write (the secured listener's ACLs): events, dead letters. */
  prefix: string;
  deadPrefix: string;
}

const TOPICS_LOCAL = '{ replicationFactor: 1, minInsyncReplicas: 1, allowUnsafe: true }';
const secured = (compression: string): string =>
  `{ brokers: ['127.0.0.1:19095'], ssl: { caFile: ${JSON.stringify(join(STACK_DIR, 'kafka/tls/ca.pem'))} }, ` +
  `sasl: { mechanism: scram-sha-512, username: vigie-collector-pglog, passwordFile: ${JSON.stringify(join(STACK_DIR, 'kafka/secrets/vigie-collector-pglog.password'))} }, ` +
  `compression: ${compression}, topics: ${TOPICS_LOCAL} }`;

/** The variants compared end to end: plain as before, and the secured listener with each codec this Node has. */
const VARIANTS: KafkaVariant[] = [
  { name: 'plain', kafka: `{ topics: ${TOPICS_LOCAL} }`, prefix: 'bench.pglog', deadPrefix: 'bench.pglog.dead' },
  ...['none', 'gzip', ...(ZSTD_AVAILABLE ? ['zstd'] : [])].map((codec) => ({
    name: codec === 'none' ? 'SASL_SSL' : `SASL_SSL + ${codec}`,
    kafka: secured(codec),
    prefix: 'vigie.activity.bench',
    deadPrefix: 'vigie.deadletter.bench',
  })),
];

/** Bytes of the log segments of a topic's partitions in the local stack's broker: what the batches took. */
function storedBytes(topic: string): number {
  const data = join(STACK_DIR, 'kafka/data');
  let total = 0;
  for (const dir of readdirSync(data).filter((d) => d.startsWith(`${topic}-`))) {
    for (const f of readdirSync(join(data, dir))) if (f.endsWith('.log')) total += statSync(join(data, dir, f)).size;
  }
  return total;
}

function measure(run: () => Promise<{ records: number; events?: number }>): Promise<Phase> {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  return run().then((r) => {
    const cpu = process.cpuUsage(cpu0);
    return {
      ...r,
      seconds: (performance.now() - t0) / 1000,
      cpuSeconds: (cpu.user + cpu.system) / 1e6,
      maxRssMb: Math.round(process.resourceUsage().maxRSS / 1024),
    };
  });
}

const NL = 0x0a;

/** Phase bodies, run in a child process each (`node pglog-throughput.js --phase <name>`). */
const PHASES: Record<string, () => Promise<{ records: number; events?: number }>> = {
  /**
   * The floor: what any reader of a jsonlog must do, and nothing more. The collector's chunks, records cut at the
   * newlines of the bytes, each decoded to its own string (as the collector's RecordSplitter does) and parsed. A
   * chunk-wide string split into an array of lines allocates what the collector does not, and V8 parses a slice of
   * a string slower than a flat one: such a floor measured slower than the pipeline it bounds.
   */
  async bare() {
    let records = 0;
    let rest: Buffer = Buffer.alloc(0);
    for (const chunk of chunks(join(OUT, 'bench.json'))) {
      const buf = rest.length === 0 ? chunk : Buffer.concat([rest, chunk]);
      let start = 0;
      for (let end = buf.indexOf(NL); end >= 0; end = buf.indexOf(NL, start)) {
        if (end > start) {
          JSON.parse(buf.toString('utf8', start, end));
          records += 1;
        }
        start = end + 1;
      }
      rest = buf.subarray(start);
    }
    return { records };
  },
  'pipeline-json': () => pipeline('jsonlog', join(OUT, 'bench.json')),
  'pipeline-csv': () => pipeline('csvlog', join(OUT, 'bench.csv')),
};

/** Analyzer loaded once per phase process, before the clock starts (WebAssembly start-up is not throughput). */
const analyzerReady = process.argv.some((a) => a.startsWith('pipeline-'))
  ? createSqlAnalyzer({ hmacKey: 'bench-secret-key-0123' })
  : undefined;

async function pipeline(format: LogFormat, file: string): Promise<{ records: number; events: number }> {
  const analyzer = await (analyzerReady ?? createSqlAnalyzer({ hmacKey: 'bench-secret-key-0123' }));
  const parser = createLogParser({ cluster: 'bench', analyzer });
  const splitter = new RecordSplitter(format, file, 0);
  let records = 0;
  let events = 0;
  for (const chunk of chunks(file)) {
    for (const r of splitter.push(chunk).records) {
      records += 1;
      // Parse + analyze + redact: serialisation belongs to the Kafka path (measured end to end).
      events += parser.push(r).length;
    }
  }
  events += parser.flush(0).length;
  return { records, events };
}

/** A free loopback port for the collector's HTTP server (its /metrics tells the bench how far it got). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      srv.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

/** utime + stime (seconds) and peak RSS (VmHWM, MB) of a live process, from /proc. */
function procUsage(pid: number): { cpuSeconds: number; maxRssMb: number } {
  // Fields after the command name (which may contain spaces): utime and stime are the 12th and 13th.
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
  const cpuSeconds = (Number(fields[11]) + Number(fields[12])) / ticks;
  const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  return { cpuSeconds, maxRssMb: Math.round(Number(hwm) / 1024) };
}

/**
 * The production collector end to end: `vigie run collector-pglog --config …` as its own process (so its peak RSS
 * is the collector's alone, not the bench's), reading bench.json from the start into a unique topic of the shared
 * Kafka. Done when its /metrics count `expected` events acknowledged; CPU and VmHWM are read from /proc before the
 * stop. Wall time includes start-up (analyzer, topics, Kafka connection).
 */
async function e2eCli(expected: number, profileDir: string | undefined, variant: KafkaVariant): Promise<Phase> {
  const logger = createLogger('bench', { level: 'warn' });
  const stamp = Date.now();
  const topic = `${variant.prefix}.${stamp}`;
  const deadletter = `${variant.deadPrefix}.${stamp}`;
  // Topics made by the administrator (the plain listener's anonymous super user), so every variant starts alike.
  const kafka = createKafka({ brokers: ['127.0.0.1:19092'], clientId: 'bench' }, logger);
  await ensureTopics(kafka, [topic, deadletter]);
  const port = await freePort();
  const config = join(tmpdir(), `${topic}.yaml`);
  writeFileSync(
    config,
    [
      'source:',
      `  logDirectory: ${JSON.stringify(OUT)}`,
      "  pattern: '^bench\\.json$'",
      'checkpoint:',
      `  file: ${JSON.stringify(join(tmpdir(), `${topic}.checkpoint`))}`,
      '  startAt: beginning',
      `topics: { activity: ${topic}, deadletter: ${deadletter} }`,
      `kafka: ${variant.kafka}`,
      'heartbeatIntervalMs: 3600000',
      `http: { port: ${port} }`,
      'log: { level: warn }',
      '',
    ].join('\n'),
  );
  const nodeArgs = profileDir === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', profileDir];
  const t0 = performance.now();
  const child = spawn(
    process.execPath,
    [...nodeArgs, join(ROOT, 'services/cli/bin/vigie.js'), 'run', 'collector-pglog', '--config', config],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  const pid = child.pid ?? 0;
  let events = 0;
  let records = 0;
  const sum = (text: string, name: string) =>
    text
      .split('\n')
      .filter((l) => l.startsWith(name))
      .reduce((n, l) => n + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
  try {
    await waitFor(
      async () => {
        const text = await fetch(`http://127.0.0.1:${port}/metrics`).then(
          (r) => r.text(),
          () => '',
        );
        events = sum(text, 'vigie_collector_events_produced_total');
        records = sum(text, 'vigie_pglog_records_read_total');
        return events >= expected;
      },
      { timeoutMs: 600_000, intervalMs: 100, what: `${expected} events acknowledged` },
    );
    const seconds = (performance.now() - t0) / 1000;
    return { records, events, seconds, ...procUsage(pid), storedBytes: storedBytes(topic) };
  } finally {
    child.kill('SIGTERM');
    await exited;
    // The shared broker keeps no bench leftovers (500k events a run).
    const admin = kafka.admin();
    await admin.connect();
    await admin.deleteTopics({ topics: [topic, deadletter] }).catch(() => undefined);
    await admin.disconnect();
  }
}

function runPhase(name: string, env: Record<string, string> = {}): Phase {
  const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--phase', name], {
    env: { ...process.env, ...env },
    encoding: 'utf8',
    maxBuffer: 1 << 24,
  });
  const line = r.stdout.trim().split('\n').pop() ?? '';
  if (r.status !== 0) throw new Error(`phase ${name} failed: ${r.stderr.slice(-2000)}`);
  return JSON.parse(line) as Phase;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const phaseAt = args.indexOf('--phase');
  if (phaseAt >= 0) {
    const phase = PHASES[args[phaseAt + 1] ?? ''];
    if (!phase) throw new Error('unknown phase');
    await analyzerReady;
    process.stdout.write(`${JSON.stringify(await measure(phase))}\n`);
    return;
  }
  if (args.includes('--help')) {
    const header = readFileSync(
      fileURLToPath(import.meta.url.replace(/\/dist\/bench\/(.*)\.js$/, '/bench/$1.ts')),
      'utf8',
    );
    process.stdout.write(`${header.slice(0, header.indexOf('\nimport ')).replace(/^\/\/ ?/gm, '')}\n`);
    return;
  }
  const recordsAt = args.indexOf('--records');
  const target = recordsAt >= 0 ? Number(args[recordsAt + 1]) : 500_000;
  if (!args.includes('--reuse') || !existsSync(join(OUT, 'bench.json'))) generate(target);
  // Both files read once before any clock starts: the first phase must not be the one that pays the disk.
  const jsonRecords = countLines(join(OUT, 'bench.json'));
  countLines(join(OUT, 'bench.csv'));
  const jsonMb = statSync(join(OUT, 'bench.json')).size / 1e6;
  console.log(
    `log: ${jsonRecords} jsonlog records (${jsonMb.toFixed(0)} MB), ${cpus().length} cores: ${cpus()[0]?.model}`,
  );
  const roundsAt = args.indexOf('--rounds');
  const rounds = roundsAt >= 0 ? Number(args[roundsAt + 1]) : 2;
  const e2eOnly = args.includes('--e2e-only');
  const rate = (p: Phase, n = p.records) => n / p.seconds;
  const fmt = (x: number) => Math.round(x).toLocaleString('en');
  const spread = (values: number[]) => `${fmt(Math.min(...values))}–${fmt(Math.max(...values))}`;
  // Floor and pipelines interleaved (floor, pipeline, pipeline, floor, …), best (least wall time) of R each: a floor
  // measured at another time than what it bounds measures the box's load, not the code.
  const localPhases = e2eOnly ? ['pipeline-json'] : ['bare', 'pipeline-json', 'pipeline-csv'];
  const local = new Map<string, Phase[]>();
  for (let round = 0; round < (e2eOnly ? 1 : rounds); round += 1) {
    for (const name of localPhases) {
      const p = runPhase(name);
      local.set(name, [...(local.get(name) ?? []), p]);
      console.log(`  round ${round + 1} ${name}: ${fmt(rate(p))} records/s, ${fmt(p.records / p.cpuSeconds)}/CPU-s`);
    }
  }
  const bestLocal = (name: string) => local.get(name)!.reduce((a, b) => (b.seconds < a.seconds ? b : a));
  const pj = bestLocal('pipeline-json');
  const profileAt = args.indexOf('--profile');
  // Interleaved rounds, best (least CPU) of each variant: other work on a shared box moves every figure.
  const e2eRuns = new Map<string, Phase[]>();
  for (let round = 0; round < rounds; round += 1) {
    for (const v of VARIANTS) {
      const p = await e2eCli(pj.events ?? 0, profileAt >= 0 ? args[profileAt + 1] : undefined, v);
      console.log(
        `  round ${round + 1} ${v.name}: ${fmt((p.events ?? 0) / p.cpuSeconds)} events/CPU-s, peak RSS ${p.maxRssMb} MB`,
      );
      e2eRuns.set(v.name, [...(e2eRuns.get(v.name) ?? []), p]);
    }
  }
  const best = (name: string) => e2eRuns.get(name)!.reduce((a, b) => (b.cpuSeconds < a.cpuSeconds ? b : a));
  const e2e = best('plain');
  const e2eSecured = best('SASL_SSL');
  const kafkaTable = () => {
    console.log(
      `\ninto Kafka, end to end (best of ${rounds})  events/CPU-s   (min–max)          CPU µs/event   stored bytes/event   wall s   peak RSS MB (min–max)`,
    );
    for (const v of VARIANTS) {
      const runs = e2eRuns.get(v.name)!;
      const p = best(v.name);
      const n = p.events ?? 0;
      console.log(
        [
          v.name.padEnd(33),
          fmt(n / p.cpuSeconds).padStart(13),
          `(${spread(runs.map((r) => (r.events ?? 0) / r.cpuSeconds))})`.padEnd(18),
          ((p.cpuSeconds / n) * 1e6).toFixed(1).padStart(14),
          ((p.storedBytes ?? 0) / n).toFixed(0).padStart(20),
          p.seconds.toFixed(1).padStart(8),
          `${p.maxRssMb} (${spread(runs.map((r) => r.maxRssMb))})`.padStart(21),
        ].join(' '),
      );
    }
    if (!ZSTD_AVAILABLE)
      console.log(`(zstd: not in this Node's zlib — Node ${process.versions.node}; it needs >= 22.15)`);
  };
  if (e2eOnly) {
    // Quick iteration on the Kafka path: no peers, no ratios.
    kafkaTable();
    return;
  }
  ensurePeers();
  const bare = bestLocal('bare');
  const pc = bestLocal('pipeline-csv');
  const badgerCsv = pgbadger('csv', join(OUT, 'bench.csv'));
  const badgerJson = pgbadger('jsonlog', join(OUT, 'bench.json'));
  const rows: [string, Phase, number, string][] = [
    ['bare read + JSON.parse (jsonlog), the floor', bare, rate(bare), spread(local.get('bare')!.map((p) => rate(p)))],
    ['collector pipeline, no Kafka (jsonlog)', pj, rate(pj), spread(local.get('pipeline-json')!.map((p) => rate(p)))],
    ['collector pipeline, no Kafka (csvlog)', pc, rate(pc), spread(local.get('pipeline-csv')!.map((p) => rate(p)))],
    ['collector end to end into Kafka (jsonlog)', e2e, rate(e2e, e2e.events), ''],
    ['the same over SASL_SSL', e2eSecured, rate(e2eSecured, e2eSecured.events), ''],
    ['pgBadger -j 1 (csvlog)', badgerCsv, jsonRecords / badgerCsv.seconds, ''],
    ['pgBadger -j 1 (jsonlog)', badgerJson, jsonRecords / badgerJson.seconds, ''],
  ];
  console.log(
    `\nphase (best of ${rounds} where a spread is shown)           records/s   (min–max)          wall s   cpu s   peak RSS MB`,
  );
  for (const [name, p, r, range] of rows) {
    console.log(
      `${name.padEnd(46)} ${fmt(r).padStart(10)}   ${(range ? `(${range})` : '').padEnd(18)} ${p.seconds.toFixed(1).padStart(6)} ${p.cpuSeconds.toFixed(1).padStart(7)} ${String(p.maxRssMb).padStart(13)}`,
    );
  }
  kafkaTable();
  const perCore = (e2eSecured.events ?? 0) / e2eSecured.cpuSeconds;
  // Wall clock is what the goals name; CPU seconds are printed too because the box is shared and wall time moves
  // with other work's load.
  console.log(
    `\nCPU-second ratios: csvlog vs pgBadger ${(badgerCsv.cpuSeconds / pc.cpuSeconds).toFixed(2)}×, ` +
      `jsonlog vs bare loop ${(bare.cpuSeconds / pj.cpuSeconds).toFixed(2)}×`,
  );
  const goals: [string, number, number][] = [
    ['csvlog vs pgBadger, wall (goal ≥ 4×)', rate(pc) / (jsonRecords / badgerCsv.seconds), 4],
    ['jsonlog vs bare loop, wall (goal ≥ 0.5×)', rate(pj) / rate(bare), 0.5],
    ['events/s per CPU-second into Kafka over SASL_SSL (goal ≥ 100,000)', perCore, 100_000],
    ['peak RSS MB, end to end (goal ≤ 150)', Math.max(e2e.maxRssMb, e2eSecured.maxRssMb), -150],
  ];
  console.log('');
  for (const [name, value, goal] of goals) {
    const ok = goal < 0 ? value <= -goal : value >= goal;
    console.log(`${ok ? 'MET   ' : 'MISSED'} ${name}: ${value < 100 ? value.toFixed(2) : fmt(value)}`);
  }
  // The floor bounds the pipeline from above: a floor slower than the pipeline measured noise, not the code.
  if (rate(bare) < rate(pj)) console.log('WARNING the floor lost to the jsonlog pipeline: rerun with more --rounds');
}

await main();
