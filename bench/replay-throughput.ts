// `npm run bench -- replay-throughput [--records N] [--fresh] [--rounds R]`: `vigie replay` against pgBadger over the
// same log, in one run.
//
// 1. The sample log pglog-throughput uses (bench/out/pglog/bench.json and bench.csv, the same records; ≥ N records,
//    default 500,000, made with the real server: pgbench with pgaudit on, plus a pg_dump). Reused when present
//    (`--fresh` makes it again); generating it needs the local stack (`npm run stack -- up`).
// 2. Measures, each as its own process under GNU time (wall, CPU, peak RSS), best (least wall) of R rounds (default
//    1): `vigie replay <file> --json` as a user runs it (start-up, the SQL analyzer's WebAssembly load, every rule,
//    output) over the csvlog, the jsonlog and the csvlog gzip-compressed; pgBadger 12 (`-j 1`) over the csvlog and
//    the jsonlog.
// 3. Prints records/s and the ratios against pgBadger on the same file (goal ≥ 4×), wall and CPU.
import { spawnSync } from 'node:child_process';
import { createReadStream, createWriteStream, existsSync, statSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { countLines, ensurePeers, generate, OUT, pgbadger, ROOT, type Phase } from './lib/pglog-sample.js';

/** `vigie replay <file> --json` under GNU time; the alerts (stdout) are discarded, the summary (stderr) kept. */
function replayRun(file: string): Phase & { alerts: number; summary: string } {
  const t0 = performance.now();
  const r = spawnSync(
    '/usr/bin/time',
    ['-f', '%e %U %S %M', process.execPath, join(ROOT, 'services/cli/bin/vigie.js'), 'replay', file, '--json'],
    { encoding: 'utf8', maxBuffer: 1 << 26, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const seconds = (performance.now() - t0) / 1000;
  if (r.status !== 0) throw new Error(`vigie replay ${file} failed (status ${r.status}): ${r.stderr.slice(-2000)}`);
  const lines = r.stderr.trim().split('\n');
  const [, user, sys, rss] = (lines.pop() ?? '').split(' ').map(Number);
  const events = Number(/vigie replay: (\d+) events/.exec(r.stderr)?.[1] ?? 0);
  const alerts = r.stdout.split('\n').filter((l) => l.startsWith('{')).length;
  const summary = lines.slice(lines.findIndex((l) => l === 'summary')).join('\n');
  return {
    records: 0,
    events,
    alerts,
    summary,
    seconds,
    cpuSeconds: (user ?? 0) + (sys ?? 0),
    maxRssMb: Math.round((rss ?? 0) / 1024),
  };
}

function best<T extends Phase>(rounds: number, run: () => T): T {
  let kept: T | undefined;
  for (let i = 0; i < rounds; i += 1) {
    const p = run();
    if (kept === undefined || p.seconds < kept.seconds) kept = p;
  }
  return kept!;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const recordsAt = args.indexOf('--records');
  const target = recordsAt >= 0 ? Number(args[recordsAt + 1]) : 500_000;
  const roundsAt = args.indexOf('--rounds');
  const rounds = roundsAt >= 0 ? Number(args[roundsAt + 1]) : 1;
  const json = join(OUT, 'bench.json');
  const csv = join(OUT, 'bench.csv');
  const csvGz = join(OUT, 'bench.csv.gz');
  if (args.includes('--fresh') || !existsSync(json) || !existsSync(csv)) generate(target);
  if (!existsSync(csvGz) || statSync(csvGz).mtimeMs < statSync(csv).mtimeMs) {
    await pipeline(createReadStream(csv), createGzip(), createWriteStream(csvGz));
  }
  const records = countLines(json);
  const mb = (f: string) => (statSync(f).size / 1e6).toFixed(0);
  console.log(
    `log: ${records} records (jsonlog ${mb(json)} MB, csvlog ${mb(csv)} MB, csvlog.gz ${mb(csvGz)} MB), ` +
      `${cpus().length} cores: ${cpus()[0]?.model}` +
      (records < 500_000 ? `\nnote: fewer than the 500,000 records the goal is stated for` : ''),
  );
  ensurePeers();
  const replayCsv = best(rounds, () => replayRun(csv));
  const replayJson = best(rounds, () => replayRun(json));
  const replayGz = best(rounds, () => replayRun(csvGz));
  const badgerCsv = best(rounds, () => pgbadger('csv', csv));
  const badgerJson = best(rounds, () => pgbadger('jsonlog', json));
  const fmt = (x: number) => Math.round(x).toLocaleString('en');
  const rows: [string, Phase][] = [
    ['vigie replay (csvlog)', replayCsv],
    ['vigie replay (jsonlog)', replayJson],
    ['vigie replay (csvlog.gz)', replayGz],
    ['pgBadger -j 1 (csvlog)', badgerCsv],
    ['pgBadger -j 1 (jsonlog)', badgerJson],
  ];
  console.log('\nrun                          records/s   wall s   cpu s   peak RSS MB');
  for (const [name, p] of rows) {
    console.log(
      `${name.padEnd(27)} ${fmt(records / p.seconds).padStart(10)} ${p.seconds.toFixed(1).padStart(8)} ${p.cpuSeconds.toFixed(1).padStart(7)} ${String(p.maxRssMb).padStart(13)}`,
    );
  }
  console.log(
    `\nreplay found ${replayCsv.alerts} alert(s) over ${fmt(replayCsv.events ?? 0)} events (csvlog); its summary:\n${replayCsv.summary}`,
  );
  // Wall clock is what the goal names (an investigator waits for it); CPU seconds too, as the box may be shared.
  const goals: [string, number][] = [
    ['replay vs pgBadger on the csvlog, wall (goal ≥ 4×)', badgerCsv.seconds / replayCsv.seconds],
    ['replay vs pgBadger on the jsonlog, wall (goal ≥ 4×)', badgerJson.seconds / replayJson.seconds],
  ];
  console.log(
    `CPU-second ratios: csvlog ${(badgerCsv.cpuSeconds / replayCsv.cpuSeconds).toFixed(2)}×, ` +
      `jsonlog ${(badgerJson.cpuSeconds / replayJson.cpuSeconds).toFixed(2)}×`,
  );
  for (const [name, ratio] of goals) console.log(`${ratio >= 4 ? 'MET   ' : 'MISSED'} ${name}: ${ratio.toFixed(2)}×`);
}

await main();
