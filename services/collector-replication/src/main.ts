import { loadSitePolicy } from '@vigie/policy';
import { createLogger, loadConfig, parseServiceArgs, runService } from '@vigie/runtime';
import { createReplicationCollector } from './app.js';
import { ReplicationConfig } from './config.js';

/** Entry point of `vigie run collector-replication`: the only place that reads the environment and exits. */
export async function main(args: string[], env: Record<string, string | undefined>): Promise<void> {
  const values = parseServiceArgs('collector-replication', args, env);
  await runService(async () => {
    const config = loadConfig(ReplicationConfig, { file: values.config, env });
    const policy = loadSitePolicy(values.policy, env);
    const logger = createLogger('collector-replication', { level: config.log.level });
    // Test-only fault injection (the kill -9 test): die right after the n-th Kafka acknowledgement, before the
    // position is confirmed to PostgreSQL — the window where a careless collector loses data.
    const killAfter = Number(env['VIGIE_TEST_KILL_AFTER_KAFKA_ACKS'] ?? 0);
    let acks = 0;
    const collector = createReplicationCollector(config, {
      logger,
      policy,
      ...(killAfter > 0
        ? {
            afterKafkaAck: () => {
              acks += 1;
              if (acks >= killAfter) process.kill(process.pid, 'SIGKILL');
            },
          }
        : {}),
    });
    await collector.start();
    return { stop: () => collector.stop(), logger };
  });
}
