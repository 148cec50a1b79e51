import type { Socket } from 'node:net';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeEvent, sessionIdOf, type EgressSampleEvent } from '@vigie/contract';
import { compilePolicy, loadPolicy } from '@vigie/policy';
import { ConfigError, createLogger } from '@vigie/runtime';
import { LOCAL_KAFKA_TOPICS, ROLES, STACK, connectAs, readTopic, uniqueName, type KafkaMessage } from '@vigie/testkit';
import { createEgressCollector, type EgressCollector } from './app.js';
import { EgressConfig } from './config.js';

const policy = compilePolicy(loadPolicy());
const logger = createLogger('collector-egress-test', { level: 'warn' });
const egressTopic = uniqueName('vigie.egress.test');
const activityTopic = uniqueName('vigie.activity.test');
const INTERVAL_MS = 1000;

function configFor(overrides: Record<string, unknown> = {}) {
  return EgressConfig.parse({
    serverPort: STACK.pg.port,
    intervalMs: INTERVAL_MS,
    heartbeatIntervalMs: 1000,
    instance: 'egress-int-test',
    postgres: { host: STACK.pg.host, port: STACK.pg.port, user: ROLES.collector, password: ROLES.collector },
    topics: { egress: egressTopic, activity: activityTopic },
    kafka: { topics: LOCAL_KAFKA_TOPICS },
    http: { port: 0 },
    ...overrides,
  });
}

/** The socket under a pg client: what the client really received, byte for byte. */
function socketOf(client: pg.Client): Socket {
  return (client as unknown as { connection: { stream: Socket } }).connection.stream;
}

async function sessionIdOfClient(client: pg.Client): Promise<string> {
  const { rows } = await client.query<{ pid: number; start: number }>(
    'SELECT pid, extract(epoch FROM backend_start)::float8 AS start FROM pg_stat_activity WHERE pid = pg_backend_pid()',
  );
  return sessionIdOf(rows[0]!.start, rows[0]!.pid);
}

function decodeAll(messages: { value: Buffer | null }[]): EgressSampleEvent[] {
  const out: EgressSampleEvent[] = [];
  for (const m of messages) {
    const d = m.value ? decodeEvent(m.value) : undefined;
    if (d?.ok && d.value.kind === 'egress.sample') out.push(d.value);
  }
  return out;
}

async function metricValue(collector: EgressCollector, name: string, label: string): Promise<number> {
  const text = await collector.registry.metrics();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes(label));
  return line ? Number(line.split(' ').pop()) : NaN;
}

describe('collector-egress against the real server and kernel', () => {
  let collector: EgressCollector;

  beforeAll(async () => {
    collector = createEgressCollector(configFor(), { policy, logger });
    await collector.start();
  });

  afterAll(async () => {
    await collector?.stop();
  });

  it('attributes each session its bytes, within 5 % of what the client received, from inside and outside the bastion', async () => {
    const marker = uniqueName('egress_two');
    const clients = {
      bastion: await connectAs(ROLES.contractor, { localAddress: '127.0.0.2', applicationName: marker }),
      outside: await connectAs(ROLES.contractor, { localAddress: '127.0.0.3', applicationName: marker }),
    };
    const ids = {
      bastion: await sessionIdOfClient(clients.bastion),
      outside: await sessionIdOfClient(clients.outside),
    };
    const before = {
      bastion: await metricValue(collector, 'vigie_egress_observed_bytes_total', 'client_class="bastion"'),
      outside: await metricValue(collector, 'vigie_egress_observed_bytes_total', 'client_class="non-bastion"'),
    };
    await Promise.all(
      Object.values(clients).map((c) => c.query('SELECT * FROM public.citizens ORDER BY id LIMIT 50000')),
    );
    // Let at least one sample see the open sessions, so the final is a delta on top of a sample.
    await new Promise((r) => setTimeout(r, INTERVAL_MS * 1.5));
    const received = { bastion: socketOf(clients.bastion).bytesRead, outside: socketOf(clients.outside).bytesRead };
    await Promise.all(Object.values(clients).map((c) => c.end()));
    expect(received.bastion).toBeGreaterThan(5_000_000);

    const messages = await readTopic(
      egressTopic,
      (all) => {
        const finals = decodeAll(all).filter((e) => e.final && e.session);
        return [ids.bastion, ids.outside].every((id) => finals.some((e) => e.session?.id === id));
      },
      { timeoutMs: 30_000 },
    );
    const events = decodeAll(messages);
    for (const which of ['bastion', 'outside'] as const) {
      const mine = events.filter((e) => e.session?.id === ids[which]);
      const final = mine.find((e) => e.final);
      expect(final, `final sample of ${which}`).toBeDefined();
      expect(Math.abs(final!.bytesSent - received[which]) / received[which]).toBeLessThan(0.05);
      // Deltas add up to the total: a consumer summing them counts each byte once.
      expect(mine.reduce((sum, e) => sum + e.bytesSentDelta, 0)).toBe(final!.bytesSent);
      expect(mine.some((e) => !e.final)).toBe(true);
      expect(final!.session).toMatchObject({
        clientAddr: which === 'bastion' ? '127.0.0.2' : '127.0.0.3',
        user: ROLES.contractor,
        database: 'app',
        applicationName: marker,
      });
    }
    const after = {
      bastion: await metricValue(collector, 'vigie_egress_observed_bytes_total', 'client_class="bastion"'),
      outside: await metricValue(collector, 'vigie_egress_observed_bytes_total', 'client_class="non-bastion"'),
    };
    // Other tests' sessions only add bytes, and only from 127.0.0.1 (non-bastion) unless they use 127.0.0.2.
    expect(after.bastion - before.bastion).toBeGreaterThanOrEqual(received.bastion * 0.95);
    expect(after.outside - before.outside).toBeGreaterThanOrEqual(received.outside * 0.95);
  });

  it('counts a connection opened and closed within one sampling interval, from its close event', async () => {
    const opened = Date.now();
    const client = await connectAs(ROLES.contractor, { localAddress: '127.0.0.3', applicationName: 'egress-short' });
    const socket = socketOf(client);
    const port = socket.localPort!;
    await client.query('SELECT * FROM public.citizens ORDER BY id LIMIT 3000');
    const received = socket.bytesRead;
    await client.end();
    const lifetime = Date.now() - opened;
    expect(lifetime).toBeLessThan(INTERVAL_MS);

    const messages = await readTopic(
      egressTopic,
      (all) => decodeAll(all).some((e) => e.final && e.peer?.port === port && e.peer.addr.endsWith('127.0.0.3')),
      { timeoutMs: 30_000 },
    );
    const final = decodeAll(messages).find((e) => e.final && e.peer?.port === port);
    expect(final).toBeDefined();
    expect(Math.abs(final!.bytesSent - received) / received).toBeLessThan(0.05);
    // Joined when the activity poll saw the session in time; otherwise still counted, by client end.
    if (final!.session) {
      expect(final!.session.clientPort).toBe(port);
      expect(final!.session.applicationName).toBe('egress-short');
    }
  });

  it('emits heartbeats that announce its own session and serves its metrics', async () => {
    const beats = (all: KafkaMessage[]) =>
      all
        .map((m) => decodeEvent(m.value!))
        .flatMap((d) => (d.ok && d.value.kind === 'collector.heartbeat' ? [d.value] : []));
    const messages = await readTopic(activityTopic, (all) => beats(all).some((b) => (b.identities ?? []).length > 0), {
      timeoutMs: 15_000,
    });
    // The first heartbeat, sent before it connects, names the role it connects as.
    expect(beats(messages)[0]).toMatchObject({ collector: 'collector-egress', accounts: [ROLES.collector] });
    const beat = beats(messages).find((b) => (b.identities ?? []).length > 0)!;
    expect(beat.health?.state).toBe('ok');
    const mine = beat.identities![0]!;
    // What it announces is what the server says of that backend.
    const db = await connectAs(ROLES.dba, { database: 'postgres' });
    try {
      const { rows } = await db.query<{ start: number; usename: string; application_name: string }>(
        `SELECT extract(epoch FROM backend_start)::float8 AS start, usename, application_name
           FROM pg_stat_activity WHERE pid = $1`,
        [mine.pid],
      );
      expect(rows[0]).toBeDefined();
      expect(mine.sessionId).toBe(sessionIdOf(rows[0]!.start, mine.pid));
      expect(mine).toMatchObject({
        role: ROLES.collector,
        applicationName: 'vigie-collector-egress',
        clientAddr: '127.0.0.1',
        replication: false,
        account: 'vigie',
      });
    } finally {
      await db.end();
    }
    const res = await fetch(`http://${collector.httpAddress}/metrics`);
    const body = await res.text();
    expect(body).toMatch(/vigie_egress_close_events_total\{service="collector-egress"\} [1-9]/);
    expect((await fetch(`http://${collector.httpAddress}/readyz`)).status).toBe(200);
  });
});

describe('collector-egress startup checks', () => {
  it('lists every failure with its fix and refuses to start', async () => {
    const bad = createEgressCollector(
      configFor({
        ssCommand: '/nonexistent/ss',
        postgres: { host: STACK.pg.host, port: STACK.pg.port, user: ROLES.contractor, password: ROLES.contractor },
        http: { port: 0 },
      }),
      { policy, logger },
    );
    let error: unknown;
    try {
      await bad.start();
    } catch (e) {
      error = e;
    } finally {
      await bad.stop().catch(() => undefined);
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems;
    expect(problems.map((p) => p.path).sort()).toEqual(['VIGIE_EGRESS_PG_STATS_ROLE', 'VIGIE_EGRESS_SS_MISSING']);
    expect((error as ConfigError).message).toContain('apt-get install -y iproute2');
    expect((error as ConfigError).message).toContain(`GRANT pg_read_all_stats TO ${ROLES.contractor}`);
  });
});
