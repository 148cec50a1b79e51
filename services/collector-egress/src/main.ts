import { loadSitePolicy } from '@vigie/policy';
import { createLogger, loadConfig, parseServiceArgs, runService } from '@vigie/runtime';
import { createEgressCollector } from './app.js';
import { EgressConfig } from './config.js';

/** `vigie run collector-egress`: runs the egress collector until SIGINT/SIGTERM (exit 2 on bad config or checks). */
export async function main(args: string[], env: Record<string, string | undefined>): Promise<void> {
  const values = parseServiceArgs('collector-egress', args, env);
  await runService(async () => {
    const config = loadConfig(EgressConfig, { file: values.config, env });
    const policy = loadSitePolicy(values.policy, env);
    const logger = createLogger('collector-egress', { level: config.log.level });
    const collector = createEgressCollector(config, { policy, logger });
    await collector.start();
    return { stop: () => collector.stop(), logger };
  });
}
