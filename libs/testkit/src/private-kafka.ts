import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from '@vigie/runtime';
import { realClockEnv } from './real-clock.js';
import { freePort } from './service.js';
import { REPO_ROOT, STATE_DIR } from './stack.js';

/** A single-node Kafka (KRaft, broker + controller) of one test: stop it, kill it, start it again. */
export interface PrivateKafka {
  /** Bootstrap address (`127.0.0.1:<port>`). */
  readonly brokers: string[];
  readonly dir: string;
  /** Starts the broker (again) and waits until it accepts connections. */
  start(): Promise<void>;
  /** SIGTERM and wait: a clean broker shutdown. */
  stop(): Promise<void>;
  /** SIGKILL: an outage. */
  kill(): Promise<void>;
  /** Stops the broker and deletes its data. */
  destroy(): Promise<void>;
}

/** One node of a {@link PrivateKafkaCluster}. */
export interface PrivateKafkaNode {
  readonly id: number;
  /** `127.0.0.1:<port>` of its broker listener. */
  readonly address: string;
  readonly running: boolean;
  /** Starts the node (again, on the same data) and waits until its broker listener accepts connections. */
  start(): Promise<void>;
  /** SIGTERM and wait. */
  stop(): Promise<void>;
  /** `kill -9`: the node disappears mid-request, nothing flushed. */
  kill(): Promise<void>;
}

/** A Kafka cluster of several KRaft nodes (each broker and controller) on loopback ports, for failover tests. */
export interface PrivateKafkaCluster {
  /** Every node's broker address (bootstrap list). */
  readonly brokers: string[];
  readonly nodes: readonly PrivateKafkaNode[];
  readonly dir: string;
  node(id: number): PrivateKafkaNode;
  /** Stops every node and deletes the data. */
  destroy(): Promise<void>;
}

function exited(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

const portOpen = (port: number) =>
  new Promise<boolean>((resolve) => {
    const s = connect({ host: '127.0.0.1', port }, () => {
      s.destroy();
      resolve(true);
    });
    s.on('error', () => resolve(false));
  });

function kafkaLibs(): string {
  const libs = join(STATE_DIR, 'kafka', 'libs');
  if (!existsSync(libs)) throw new Error(`no Kafka jars in ${libs}: run bash deploy/local/stack.sh up once`);
  return libs;
}

/** A Kafka cluster id: 16 random bytes, URL-safe base64, never starting with "-" (the storage tool reads an option). */
function clusterId(): string {
  for (;;) {
    const id = randomBytes(16).toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}

const javaBin = () => (process.env['JAVA_HOME'] ? join(process.env['JAVA_HOME'], 'bin', 'java') : 'java');

/**
 * One KRaft node from the local stack's jars (`.stack/kafka/libs`): writes its server.properties, formats its
 * storage with the cluster id, and returns its start/stop/kill. `properties` come after the defaults and win.
 */
function kafkaNode(o: {
  dir: string;
  id: number;
  port: number;
  controllerPort: number;
  voters: string;
  clusterId: string;
  properties: Record<string, string | number>;
  heapMb: number;
}): PrivateKafkaNode {
  const libs = kafkaLibs();
  mkdirSync(o.dir, { recursive: true });
  const props = join(o.dir, 'server.properties');
  const settings: Record<string, string | number> = {
    'process.roles': 'broker,controller',
    'node.id': o.id,
    'controller.quorum.voters': o.voters,
    listeners: `PLAINTEXT://127.0.0.1:${o.port},CONTROLLER://127.0.0.1:${o.controllerPort}`,
    'advertised.listeners': `PLAINTEXT://127.0.0.1:${o.port}`,
    'controller.listener.names': 'CONTROLLER',
    'inter.broker.listener.name': 'PLAINTEXT',
    'listener.security.protocol.map': 'CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT',
    'log.dirs': join(o.dir, 'data'),
    'num.network.threads': 2,
    'num.io.threads': 2,
    'auto.create.topics.enable': 'false',
    'group.initial.rebalance.delay.ms': 0,
    ...o.properties,
  };
  writeFileSync(
    props,
    `${Object.entries(settings)
      .map(([k, v]) => `${k}=${v}`)
      .join('\n')}\n`,
  );
  const log4j = join(REPO_ROOT, 'deploy/local/kafka/log4j2.properties');
  const jvm = [
    `-Xms${Math.min(128, o.heapMb)}m`,
    `-Xmx${o.heapMb}m`,
    '-XX:+UseSerialGC',
    `-Dkafka.logs.dir=${join(o.dir, 'logs')}`,
  ];
  if (existsSync(log4j)) jvm.push(`-Dlog4j2.configurationFile=${log4j}`);
  const format = spawnSync(
    javaBin(),
    [...jvm, '-cp', `${libs}/*`, 'kafka.tools.StorageTool', 'format', '--cluster-id', o.clusterId, '--config', props],
    { encoding: 'utf8', env: realClockEnv() },
  );
  if (format.status !== 0) throw new Error(`kafka storage format failed: ${format.stderr || format.stdout}`);
  let child: ChildProcess | undefined;
  const out = openSync(join(o.dir, 'kafka.out'), 'a');
  const alive = () => child !== undefined && child.exitCode === null && child.signalCode === null;
  return {
    id: o.id,
    address: `127.0.0.1:${o.port}`,
    get running() {
      return alive();
    },
    async start() {
      if (alive()) return;
      // The JVM keeps real time even when the test runs on a faked clock (test/support/faked-clock.sh).
      child = spawn(javaBin(), [...jvm, '-cp', `${libs}/*`, 'kafka.Kafka', props], {
        stdio: ['ignore', out, out],
        env: realClockEnv(),
      });
      const c = child;
      await waitFor(
        async () => {
          if (c.exitCode !== null) throw new Error(`private kafka exited with ${c.exitCode} (see ${o.dir}/kafka.out)`);
          return portOpen(o.port);
        },
        { timeoutMs: 120_000, intervalMs: 250, what: `private kafka node ${o.id} to listen` },
      );
    },
    async stop() {
      child?.kill('SIGTERM');
      await exited(child);
    },
    async kill() {
      child?.kill('SIGKILL');
      await exited(child);
    },
  };
}

/**
 * Starts a private Kafka broker from the jars the local stack downloaded (`.stack/kafka/libs`), on free loopback
 * ports with its own data directory, for tests that must break Kafka (outages) or need a broker setting the shared
 * one must not get (`properties`, e.g. `{ 'message.max.bytes': 4096 }`). Needs `bash deploy/local/stack.sh up` to
 * have run once (for the jars) and Java 17+.
 */
export async function startPrivateKafka({
  partitions = 3,
  properties = {},
}: { partitions?: number; properties?: Record<string, string | number> } = {}): Promise<PrivateKafka> {
  const dir = mkdtempSync(join(tmpdir(), 'vigie-kafka-'));
  const [port, controller] = [await freePort(), await freePort()];
  const node = kafkaNode({
    dir,
    id: 1,
    port,
    controllerPort: controller,
    voters: `1@127.0.0.1:${controller}`,
    clusterId: clusterId(),
    heapMb: 384,
    properties: {
      'num.partitions': partitions,
      'default.replication.factor': 1,
      'offsets.topic.replication.factor': 1,
      'transaction.state.log.replication.factor': 1,
      'transaction.state.log.min.isr': 1,
      'share.coordinator.state.topic.replication.factor': 1,
      'share.coordinator.state.topic.min.isr': 1,
      ...properties,
    },
  });
  const broker: PrivateKafka = {
    brokers: [node.address],
    dir,
    start: () => node.start(),
    stop: () => node.stop(),
    kill: () => node.kill(),
    async destroy() {
      await node.kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  await broker.start();
  return broker;
}

/**
 * Starts `nodes` KRaft nodes (each broker and controller, one quorum) from the local stack's jars on loopback ports,
 * replicated like a production site: internal topics with `nodes` replicas, `min.insync.replicas` 2, no unclean
 * leader election. Brokers are fenced 3 s after their last heartbeat (9 s by default), so a test that kills one
 * sees leaders move within seconds. Small heaps: three nodes fit beside the local stack.
 */
export async function startPrivateKafkaCluster({
  nodes = 3,
  properties = {},
}: { nodes?: number; properties?: Record<string, string | number> } = {}): Promise<PrivateKafkaCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'vigie-kafka-cluster-'));
  const ids = Array.from({ length: nodes }, (_, i) => i + 1);
  const ports = new Map<number, [number, number]>();
  for (const id of ids) ports.set(id, [await freePort(), await freePort()]);
  const voters = ids.map((id) => `${id}@127.0.0.1:${ports.get(id)![1]}`).join(',');
  const cluster = clusterId();
  const replicas = Math.min(3, nodes);
  const members = ids.map((id) =>
    kafkaNode({
      dir: join(dir, `node-${id}`),
      id,
      port: ports.get(id)![0],
      controllerPort: ports.get(id)![1],
      voters,
      clusterId: cluster,
      heapMb: 320,
      properties: {
        'num.partitions': 3,
        'default.replication.factor': replicas,
        'min.insync.replicas': Math.min(2, replicas),
        'offsets.topic.replication.factor': replicas,
        'transaction.state.log.replication.factor': replicas,
        'transaction.state.log.min.isr': Math.min(2, replicas),
        'share.coordinator.state.topic.replication.factor': replicas,
        'share.coordinator.state.topic.min.isr': Math.min(2, replicas),
        'unclean.leader.election.enable': 'false',
        'broker.session.timeout.ms': 3000,
        'broker.heartbeat.interval.ms': 500,
        ...properties,
      },
    }),
  );
  const handle: PrivateKafkaCluster = {
    brokers: members.map((m) => m.address),
    nodes: members,
    dir,
    node(id) {
      const m = members.find((x) => x.id === id);
      if (!m) throw new Error(`no node ${id}`);
      return m;
    },
    async destroy() {
      await Promise.all(members.map((m) => m.kill()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    // Together: a controller quorum needs a majority of its voters before any node finishes starting.
    await Promise.all(members.map((m) => m.start()));
  } catch (error) {
    await handle.destroy();
    throw error;
  }
  return handle;
}
