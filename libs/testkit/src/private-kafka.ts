import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
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

function exited(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

/**
 * Starts a private Kafka broker from the jars the local stack downloaded (`.stack/kafka/libs`), on free loopback
 * ports with its own data directory, for tests that must break Kafka (outages) without touching the shared broker.
 * Needs `bash deploy/local/stack.sh up` to have run once (for the jars) and Java 17+.
 */
export async function startPrivateKafka({ partitions = 3 }: { partitions?: number } = {}): Promise<PrivateKafka> {
  const libs = join(STATE_DIR, 'kafka', 'libs');
  if (!existsSync(libs)) throw new Error(`no Kafka jars in ${libs}: run bash deploy/local/stack.sh up once`);
  const java = process.env['JAVA_HOME'] ? join(process.env['JAVA_HOME'], 'bin', 'java') : 'java';
  const dir = mkdtempSync(join(tmpdir(), 'vigie-kafka-'));
  const [port, controller] = [await freePort(), await freePort()];
  const props = join(dir, 'server.properties');
  writeFileSync(
    props,
    [
      'process.roles=broker,controller',
      'node.id=1',
      `controller.quorum.voters=1@127.0.0.1:${controller}`,
      `listeners=PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controller}`,
      `advertised.listeners=PLAINTEXT://127.0.0.1:${port}`,
      'controller.listener.names=CONTROLLER',
      'inter.broker.listener.name=PLAINTEXT',
      'listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT',
      `log.dirs=${join(dir, 'data')}`,
      'num.network.threads=2',
      'num.io.threads=2',
      `num.partitions=${partitions}`,
      'default.replication.factor=1',
      'offsets.topic.replication.factor=1',
      'transaction.state.log.replication.factor=1',
      'transaction.state.log.min.isr=1',
      'share.coordinator.state.topic.replication.factor=1',
      'share.coordinator.state.topic.min.isr=1',
      'auto.create.topics.enable=false',
      'group.initial.rebalance.delay.ms=0',
      '',
    ].join('\n'),
  );
  const log4j = join(REPO_ROOT, 'deploy/local/kafka/log4j2.properties');
  const jvm = ['-Xms128m', '-Xmx384m', `-Dkafka.logs.dir=${join(dir, 'logs')}`];
  if (existsSync(log4j)) jvm.push(`-Dlog4j2.configurationFile=${log4j}`);
  const clusterId = randomBytes(16).toString('base64url');
  const format = spawnSync(
    java,
    [...jvm, '-cp', `${libs}/*`, 'kafka.tools.StorageTool', 'format', '--cluster-id', clusterId, '--config', props],
    { encoding: 'utf8', env: realClockEnv() },
  );
  if (format.status !== 0) throw new Error(`kafka storage format failed: ${format.stderr || format.stdout}`);

  let child: ChildProcess | undefined;
  const out = openSync(join(dir, 'kafka.out'), 'a');
  const portOpen = async () => {
    const { connect } = await import('node:net');
    return new Promise<boolean>((resolve) => {
      const s = connect({ host: '127.0.0.1', port }, () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
  };
  const broker: PrivateKafka = {
    brokers: [`127.0.0.1:${port}`],
    dir,
    async start() {
      if (child && child.exitCode === null && child.signalCode === null) return;
      // The JVM keeps real time even when the test runs on a faked clock (test/support/faked-clock.sh).
      child = spawn(java, [...jvm, '-cp', `${libs}/*`, 'kafka.Kafka', props], {
        stdio: ['ignore', out, out],
        env: realClockEnv(),
      });
      const c = child;
      await waitFor(
        async () => {
          if (c.exitCode !== null) throw new Error(`private kafka exited with ${c.exitCode} (see ${dir}/kafka.out)`);
          return portOpen();
        },
        { timeoutMs: 90_000, intervalMs: 250, what: 'private kafka to listen' },
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
    async destroy() {
      await broker.kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  await broker.start();
  return broker;
}
