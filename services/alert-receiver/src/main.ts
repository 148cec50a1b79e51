import {
  buildHttpServer,
  createLogger,
  createMetricsRegistry,
  loadConfig,
  parseServiceArgs,
  runService,
} from '@vigie/runtime';
import { ReceiverConfig } from './config.js';
import { createReceiverMetrics } from './metrics.js';
import { registerReceiver } from './receiver.js';

/**
 * Runs the local webhook receiver until SIGINT/SIGTERM (`services/alert-receiver/bin/alert-receiver.js --config f`):
 * `deploy/local/stack.sh` starts it next to Alertmanager, whose shipped routes notify it.
 */
export async function main(args: string[], env: Record<string, string | undefined>): Promise<void> {
  const values = parseServiceArgs('alert-receiver', args, env);
  await runService(async () => {
    // From its file only: the stack's environment may carry other services' VIGIE_* overrides (VIGIE_HTTP__PORT).
    const config = loadConfig(ReceiverConfig, { file: values.config, env: {} });
    const logger = createLogger('alert-receiver', { level: config.log.level });
    const registry = createMetricsRegistry('alert-receiver');
    const { received } = createReceiverMetrics(registry);
    const app = buildHttpServer({ registry, bodyLimit: 4 << 20 });
    registerReceiver(app, { file: config.file, maxServed: config.maxServed, onNotification: () => received.inc() });
    await app.listen({ host: config.http.host, port: config.http.port });
    logger.info({ port: config.http.port, file: config.file }, 'alert receiver listening');
    return { stop: () => app.close(), logger };
  });
}
