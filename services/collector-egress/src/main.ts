import { parseArgs } from 'node:util';
import { compilePolicy, loadPolicy, policyFileFrom } from '@vigie/policy';
import { EXIT, createLogger, loadConfig, runService } from '@vigie/runtime';
import { createEgressCollector } from './app.js';
import { EgressConfig } from './config.js';

const USAGE = 'usage: vigie run collector-egress [--config <file>] [--policy <file>]';

/** `vigie run collector-egress`: runs the egress collector until SIGINT/SIGTERM (exit 2 on bad config or checks). */
export async function main(args: string[], env: Record<string, string | undefined>): Promise<void> {
  let values: { config?: string | undefined; policy?: string | undefined };
  try {
    ({ values } = parseArgs({
      args,
      options: { config: { type: 'string' }, policy: { type: 'string' } },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n${USAGE}\n`);
    process.exit(EXIT.config);
  }
  await runService(async () => {
    const config = loadConfig(EgressConfig, { file: values.config, env });
    const policy = compilePolicy(loadPolicy(policyFileFrom(values.policy, env)));
    const logger = createLogger('collector-egress', { level: config.log.level });
    const collector = createEgressCollector(config, { policy, logger });
    await collector.start();
    return { stop: () => collector.stop(), logger };
  });
}
