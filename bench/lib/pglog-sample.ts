// The 500,000-record PostgreSQL log the log benchmarks share (generated once with the real server, reused with
// `--reuse`), and pgBadger, the peer they are measured against. Not a benchmark itself (`bench/run.js` lists only
// `bench/*.ts`).
import { execFileSync, spawnSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readSync, readdirSync, readFileSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository's root (this file runs from dist/bench/lib/). */
export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
/** Where the sample log is kept: bench.json and bench.csv, the same records in both formats. */
export const OUT = join(ROOT, 'bench/out/pglog');
/** The local stack's state directory: VIGIE_STACK_DIR moves it, as for `deploy/local/stack.sh`. */
export const STACK_DIR = process.env['VIGIE_STACK_DIR'] ?? join(ROOT, '.stack');
const PGDATA = join(STACK_DIR, 'postgresql/data');
const PG = { host: '127.0.0.1', port: '55432' };

/** What one measured run took. */
export interface Phase {
  records: number;
  seconds: number;
  cpuSeconds: number;
  maxRssMb: number;
  events?: number;
  /** Bytes of record batches the broker stored (end to end phases). */
  storedBytes?: number;
}

/** The collector's default `source.chunkBytes`: the pipeline phases read the log as the collector does. */
export const CHUNK_BYTES = 128 << 10;

/** The chunks of a file, read as the collector reads it. */
export function* chunks(file: string, size = CHUNK_BYTES): Generator<Buffer> {
  const fd = openSync(file, 'r');
  try {
    for (let pos = 0; ;) {
      const buf = Buffer.allocUnsafe(size);
      const n = readSync(fd, buf, 0, size, pos);
      if (n === 0) return;
      pos += n;
      yield buf.subarray(0, n);
    }
  } finally {
    closeSync(fd);
  }
}

function psql(db: string, sql: string): string {
  return execFileSync('psql', ['-h', PG.host, '-p', PG.port, '-U', 'admin', '-d', db, '-XAtc', sql], {
    env: { ...process.env, PGPASSWORD: 'admin' },
    encoding: 'utf8',
  });
}

function current(format: 'jsonlog' | 'csvlog'): string {
  const line = readFileSync(join(PGDATA, 'current_logfiles'), 'utf8')
    .split('\n')
    .find((l) => l.startsWith(format));
  return join(PGDATA, (line ?? '').split(' ')[1] ?? '');
}

/** Copies the server log from (file, offset) to now: the start file's tail, then every newer file of the format. */
function copyLog(format: 'jsonlog' | 'csvlog', from: { file: string; offset: number }, to: string): void {
  const ext = format === 'jsonlog' ? '.json' : '.csv';
  const dir = join(PGDATA, 'log');
  const start = from.file.split('/').pop() ?? '';
  const files = readdirSync(dir)
    .filter((f) => f.endsWith(ext) && f >= start)
    .sort();
  const out = openSync(to, 'w');
  for (const f of files) {
    const path = join(dir, f);
    const size = statSync(path).size;
    const fd = openSync(path, 'r');
    const buf = Buffer.allocUnsafe(1 << 20);
    for (let pos = f === start ? from.offset : 0; pos < size;) {
      const n = readSync(fd, buf, 0, Math.min(buf.length, size - pos), pos);
      if (n === 0) break;
      // Stop at the last newline of the last file: a record being written is not part of the sample.
      writeSync(out, buf, 0, n);
      pos += n;
    }
    closeSync(fd);
  }
  closeSync(out);
}

/**
 * Generates the sample log with the real server (the local stack must be up): pgbench (TPC-B and select-only,
 * pgaudit on) in a dedicated database `bench_pglog`, plus a pg_dump, until ≥ `target` records; copies that stretch
 * of the shared server log to bench/out/pglog/bench.json and bench.csv.
 */
export function generate(target: number): void {
  mkdirSync(OUT, { recursive: true });
  if (psql('postgres', "SELECT 1 FROM pg_database WHERE datname = 'bench_pglog'").trim() !== '1') {
    psql('postgres', 'CREATE DATABASE bench_pglog');
    execFileSync('pgbench', ['-h', PG.host, '-p', PG.port, '-U', 'admin', '-i', '-s', '5', '-q', 'bench_pglog'], {
      env: { ...process.env, PGPASSWORD: 'admin' },
      stdio: 'ignore',
    });
  }
  const from = { json: current('jsonlog'), csv: current('csvlog') };
  const start = { json: statSync(from.json).size, csv: statSync(from.csv).size };
  const env = { ...process.env, PGPASSWORD: 'admin', PGAPPNAME: 'vigie_bench_pglog' };
  // ~7 audit records per TPC-B transaction (BEGIN, 3 UPDATE, SELECT, INSERT, END), 1 per select-only one.
  const tpcb = Math.ceil((target * 0.7) / 7);
  const select = Math.ceil(target * 0.3);
  const pgbench = (args: string[]) =>
    execFileSync('pgbench', ['-h', PG.host, '-p', PG.port, '-U', 'admin', '-n', '-c', '4', ...args, 'bench_pglog'], {
      env,
      stdio: 'ignore',
    });
  console.log(`generating: pgbench ${tpcb} TPC-B + ${select} select-only transactions, one pg_dump…`);
  pgbench(['-t', String(Math.ceil(tpcb / 4))]);
  pgbench(['-S', '-t', String(Math.ceil(select / 4))]);
  execFileSync('pg_dump', ['-h', PG.host, '-p', PG.port, '-U', 'admin', '-f', '/dev/null', 'bench_pglog'], { env });
  copyLog('jsonlog', { file: from.json, offset: start.json }, join(OUT, 'bench.json'));
  copyLog('csvlog', { file: from.csv, offset: start.csv }, join(OUT, 'bench.csv'));
}

/** The peers' Debian packages (pgBadger, GNU time for its CPU and RSS), installed when missing, as the stack does. */
export function ensurePeers(): void {
  const wanted = ['pgbadger', 'time'];
  const missing = wanted.filter(
    (p) => spawnSync('dpkg-query', ['-W', '-f=${db:Status-Status}', p], { encoding: 'utf8' }).stdout !== 'installed',
  );
  if (missing.length === 0) return;
  console.log(`installing the peers' Debian packages: ${missing.join(', ')}…`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const update = spawnSync('apt-get', ['update', '-q'], { env, encoding: 'utf8' });
  const install = spawnSync(
    'apt-get',
    ['-o', 'DPkg::Lock::Timeout=600', 'install', '-y', '-q', '--no-install-recommends', ...missing],
    {
      env,
      encoding: 'utf8',
    },
  );
  if (update.status !== 0 || install.status !== 0) {
    throw new Error(
      `could not install ${missing.join(', ')} (apt-get, as root, needs Debian's mirror; where the bench runs without network, install them beforehand): ${(install.stderr || update.stderr || '').slice(-1000)}`,
    );
  }
}

/** pgBadger 12, one process (`-j 1`), over a file: wall, CPU and peak RSS from GNU time. */
export function pgbadger(format: 'csv' | 'jsonlog', file: string): Phase {
  const t0 = performance.now();
  const r = spawnSync(
    '/usr/bin/time',
    ['-f', '%e %U %S %M', 'pgbadger', '-q', '-j', '1', '-f', format, '-o', join(OUT, `pgbadger-${format}.html`), file],
    { encoding: 'utf8' },
  );
  if (r.status !== 0) throw new Error(`pgbadger -f ${format} failed (status ${r.status}): ${r.stderr.slice(-1000)}`);
  const seconds = (performance.now() - t0) / 1000;
  const [, user, sys, rss] = (r.stderr.trim().split('\n').pop() ?? '').split(' ').map(Number);
  return { records: 0, seconds, cpuSeconds: (user ?? 0) + (sys ?? 0), maxRssMb: Math.round((rss ?? 0) / 1024) };
}

/** Lines of a file: its records for jsonlog. */
export const countLines = (file: string) => {
  let n = 0;
  for (const c of chunks(file)) for (let i = c.indexOf(10); i >= 0; i = c.indexOf(10, i + 1)) n += 1;
  return n;
};
