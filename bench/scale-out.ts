// Detector scale-out on a consumer group, as separate processes on the local stack:
//
//   npm run bench -- scale-out [events] [runs]   (default 200,000 events; runs: all, or e.g. one,two)
//
// 1. one instance, then three (six partitions): the same alert ids with the same severity, counts and status;
// 2. three instances, one killed with SIGKILL mid-stream and started again: the same answers again, and how long its
//    partitions went unwatched (until the survivors own every partition);
// 3. the cost of the group: total events per CPU-second of two instances against one instance's (the peer), on the
//    same stream; peak RSS of each process.
//
// Each run uses its own topics, group and store schema and removes them afterwards. The test
// `test/scale-out.int.test.ts` is the same on a CI-sized stream.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { waitFor } from '@vigie/runtime';
import {
  createRun,
  dropRun,
  groupLag,
  outcomeDifferences,
  partitionsInLog,
  produceStream,
  scaleStream,
  startService,
  storedOutcomes,
  uniqueName,
  waitBalanced,
  waitDrained,
  writePolicyFile,
  type AlertOutcome,
  type RunningService,
  type ScaleStream,
} from '@vigie/testkit';

const PARTITIONS = 6;
const CLUSTERS = 16;
const total = Number(process.argv[2] ?? 200_000);
const TOKEN = randomBytes(24).toString('hex');

/** CPU seconds (user + system) a process has used, from /proc (clock ticks of 1/100 s). */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** Peak resident memory of a process, in MB (VmHWM). */
function peakRssMb(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('VmHWM:'));
  return Math.round(Number(line?.split(/\s+/)[1] ?? 0) / 1024);
}

const ownedBy = (s: RunningService) => partitionsInLog(s.log());

interface RunResult {
  outcomes: Map<string, AlertOutcome>;
  drainSeconds: number;
  cpuSeconds: number;
  peakRssMb: number[];
  /** Batches the instances handled (each has fixed costs: store writes, an alert publish, a commit). */
  batches: number;
  rebalanceMs?: number;
}

async function run(stream: ScaleStream, instances: number, { kill = false } = {}): Promise<RunResult> {
  const scale = await createRun({
    prefix: `${uniqueName('bscale')}-${instances}${kill ? 'k' : ''}`,
    partitions: PARTITIONS,
    token: TOKEN,
    sessionTimeoutMs: 6_000,
  });
  const { config, topics, groupId, schema } = scale;
  const policyFile = writePolicyFile(stream.policy);
  const start = () => startService('detector', config, { policyFile });
  const procs: RunningService[] = [];
  const cpuBefore = new Map<number, number>();
  let cpuUsed = 0;
  const peaks: number[] = [];
  try {
    for (let i = 0; i < instances; i += 1) procs.push(await start());
    await waitBalanced(async () => procs.map(ownedBy), PARTITIONS);
    for (const p of procs) cpuBefore.set(p.pid, cpuSeconds(p.pid));
    const t0 = Date.now();
    let rebalanceMs: number | undefined;
    if (kill) {
      const half = Math.floor(stream.events.length / 2);
      await produceStream(topics, stream.events, PARTITIONS, { to: half });
      await waitFor(async () => (await groupLag(groupId, topics)) < half * 0.7, {
        timeoutMs: 120_000,
        what: 'the group to be consuming the first half',
      });
      const victim = procs[1] as RunningService;
      cpuUsed += cpuSeconds(victim.pid) - (cpuBefore.get(victim.pid) ?? 0);
      peaks.push(peakRssMb(victim.pid));
      await victim.kill();
      const killedAt = Date.now();
      const survivors = procs.filter((p) => p !== victim);
      const rest = produceStream(topics, stream.events, PARTITIONS, { from: half });
      await waitBalanced(async () => survivors.map(ownedBy), PARTITIONS);
      rebalanceMs = Date.now() - killedAt;
      await rest;
      const again = await start();
      procs[1] = again;
      cpuBefore.set(again.pid, 0);
      await waitBalanced(async () => procs.map(ownedBy), PARTITIONS);
    } else {
      await produceStream(topics, stream.events, PARTITIONS);
    }
    await waitDrained(groupId, topics, 900_000);
    const drainSeconds = (Date.now() - t0) / 1000;
    let batches = 0;
    for (const p of procs) {
      cpuUsed += cpuSeconds(p.pid) - (cpuBefore.get(p.pid) ?? 0);
      peaks.push(peakRssMb(p.pid));
      const metrics = await (await fetch(`http://127.0.0.1:${p.port}/metrics`)).text();
      batches += Number(/^vigie_detector_batch_seconds_count(?:\{[^}]*\})? (\d+)/m.exec(metrics)?.[1] ?? 0);
    }
    for (const p of procs) await p.stop();
    procs.length = 0;
    const outcomes = await storedOutcomes(schema);
    return {
      outcomes,
      drainSeconds,
      cpuSeconds: cpuUsed,
      peakRssMb: peaks,
      batches,
      ...(rebalanceMs !== undefined && { rebalanceMs }),
    };
  } finally {
    for (const p of procs) await p.kill().catch(() => undefined);
    await dropRun(scale).catch(() => undefined);
  }
}

function line(name: string, events: number, r: RunResult): string {
  return (
    `${name}: ${events} events drained in ${r.drainSeconds.toFixed(1)} s, ${r.cpuSeconds.toFixed(1)} CPU-s = ` +
    `${Math.round(events / r.cpuSeconds)} events/CPU-s; peak RSS ${r.peakRssMb.join(', ')} MB; ${r.batches} batches; ` +
    `${r.outcomes.size} alerts`
  );
}

// The stream adds 45 scripted events per cluster to its noise.
const noisePerCluster = Math.max(100, Math.ceil(total / CLUSTERS) - 45);
const t = Date.now();
const stream = await scaleStream({ clusters: CLUSTERS, noisePerCluster, startMs: Date.now() - 600_000 });
const n = stream.events.length;
console.log(`stream: ${n} events over ${CLUSTERS} clusters, generated in ${((Date.now() - t) / 1000).toFixed(1)} s`);

const runs = (process.argv[3] ?? 'one,three,kill,two').split(',');
const one = await run(stream, 1);
console.log(line('one instance', n, one));
const rules = new Set([...one.outcomes.values()].map((o) => o.rule));
console.log(`rules firing: ${rules.size} (${[...rules].sort().join(', ')})`);
const verdict = (diff: string[]) =>
  diff.length === 0 ? 'same answers' : `${diff.length} differences: ${diff.slice(0, 5).join('; ')}`;
let same = true;
if (runs.includes('three')) {
  const three = await run(stream, 3);
  console.log(line('three instances', n, three));
  const diff = outcomeDifferences(one.outcomes, three.outcomes);
  same &&= diff.length === 0;
  console.log(`one vs three: ${verdict(diff)}`);
}
if (runs.includes('kill')) {
  const killed = await run(stream, 3, { kill: true });
  const diff = outcomeDifferences(one.outcomes, killed.outcomes);
  same &&= diff.length === 0;
  console.log(
    `kill -9 one of three mid-stream: survivors own every partition ${killed.rebalanceMs} ms after the kill; ${verdict(diff)}`,
  );
}
if (runs.includes('two')) {
  const two = await run(stream, 2);
  console.log(line('two instances', n, two));
  console.log(
    `two instances vs one (events per CPU-second, peer = one instance): ${(one.cpuSeconds / two.cpuSeconds).toFixed(2)}`,
  );
}
process.exit(same ? 0 : 1);
