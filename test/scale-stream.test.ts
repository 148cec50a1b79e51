import { encodeEvent, type Alert } from '@vigie/contract';
import { createEngine, loadRules, type DetectorEngine } from '@vigie/detector';
import { compilePolicy, SitePolicy } from '@vigie/policy';
import { beforeAll, describe, expect, it } from 'vitest';
import { SCALE_STREAM_RULES as FIRED, scaleStream, type ScaleStream } from '@vigie/testkit';

/**
 * Feeds the stream as the live detector does (arrival = now) to `engines` engines, a cluster always to the same one
 * (its partition's), each with its own rules (rules keep state), then flushes them. Every alert raised or updated,
 * by cluster, and the final state of every alert.
 */
function detect(stream: ScaleStream, engines: number): { raised: Map<string, Alert[]>; final: Alert[] } {
  const policy = compilePolicy(SitePolicy.parse(stream.policy));
  const group = Array.from({ length: engines }, () =>
    createEngine({
      policy,
      privileged: { isPrivileged: (_c, r) => stream.privileged.includes(r) },
      rules: loadRules({}),
    }),
  );
  const engineOf = (cluster: string) => group[stream.clusters.indexOf(cluster) % engines] as DetectorEngine;
  const raised = new Map<string, Alert[]>(stream.clusters.map((c) => [c, []]));
  const keep = (alerts: Alert[]) => alerts.forEach((a) => raised.get(a.cluster)?.push(a));
  for (const event of stream.events) keep(engineOf(event.cluster).process(event, Date.now()));
  for (const engine of group) keep(engine.flush?.() ?? []);
  return { raised, final: group.flatMap((engine) => engine.alerts?.() ?? []) };
}

const rulesOf = (alerts: Alert[]) => [...new Set(alerts.map((a) => a.rule))].sort();

describe('scaleStream', () => {
  const startMs = Date.parse('2026-12-05T09:00:00.000Z');
  let stream: ScaleStream;
  beforeAll(async () => {
    stream = await scaleStream({ clusters: 4, noisePerCluster: 2000, startMs });
  });

  it('gives valid events with unique ids, sorted by event time, of the clusters it names', () => {
    expect(stream.clusters).toEqual(['scale-c01', 'scale-c02', 'scale-c03', 'scale-c04']);
    for (const event of stream.events) expect(() => encodeEvent(event)).not.toThrow();
    expect(new Set(stream.events.map((e) => e.id)).size).toBe(stream.events.length);
    const times = stream.events.map((e) => Date.parse(e.ts));
    expect(times.every((t, i) => i === 0 || (times[i - 1] as number) <= t)).toBe(true);
    expect(times[0]).toBeGreaterThanOrEqual(startMs);
    expect(new Set(stream.events.map((e) => e.cluster))).toEqual(new Set(stream.clusters));
    expect(stream.events.filter((e) => e.cluster === 'scale-c01').length).toBeGreaterThan(2000);
  });

  it('keeps each session in order: its start first, nothing after its end', () => {
    const seen = new Map<string, string[]>();
    for (const e of stream.events) {
      if (e.session === undefined) continue;
      const key = `${e.cluster}/${e.session.id}`;
      seen.set(key, [...(seen.get(key) ?? []), e.kind]);
    }
    for (const kinds of seen.values()) {
      if (kinds.includes('session.start')) expect(kinds[0]).toBe('session.start');
      if (kinds.includes('session.end')) expect(kinds.indexOf('session.end')).toBe(kinds.length - 1);
    }
  });

  it('is deterministic, with noise that differs from cluster to cluster', async () => {
    expect(await scaleStream({ clusters: 4, noisePerCluster: 2000, startMs })).toEqual(stream);
    const logins = (cluster: string) =>
      stream.events
        .filter((e) => e.cluster === cluster && e.kind === 'session.start')
        .map((e) => e.session?.user)
        .join();
    expect(logins('scale-c01')).not.toBe(logins('scale-c02'));
  });

  it('fires the same rules on every cluster', () => {
    for (const [cluster, alerts] of detect(stream, stream.clusters.length).raised)
      expect({ cluster, rules: rulesOf(alerts) }).toEqual({ cluster, rules: FIRED });
  });

  it('fires them from its scripted incidents alone, without noise', async () => {
    const scripted = await scaleStream({ clusters: 2, noisePerCluster: 0, startMs });
    for (const alerts of detect(scripted, 2).raised.values()) expect(rulesOf(alerts)).toEqual(FIRED);
  });

  it('raises the same alerts through one engine as through one per cluster or one per two clusters', () => {
    const state = (alerts: Alert[]) =>
      alerts.map((a) => JSON.stringify([a.id, a.severity, a.status, a.summary, a.what, a.evidence.eventIds])).sort();
    const one = state(detect(stream, 1).final);
    expect(one.length).toBeGreaterThan(FIRED.length * stream.clusters.length);
    expect(state(detect(stream, stream.clusters.length).final)).toEqual(one);
    expect(state(detect(stream, 2).final)).toEqual(one);
  });
});
