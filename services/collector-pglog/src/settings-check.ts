import type { VigieEvent } from '@vigie/contract';
import { describeError, rateLimited, type Logger } from '@vigie/runtime';
import type { CollectorPglogConfig } from './config.js';
import type { CollectorMetrics } from './metrics.js';
import { auditSettingsEvent, compareSettings, readSettings } from './source-settings.js';

export interface SettingsCheckOptions {
  config: Pick<CollectorPglogConfig, 'settingsCheck' | 'source' | 'cluster' | 'instance'>;
  metrics: CollectorMetrics;
  logger: Logger;
  /** Into the stream when there is room (the next check sends it again otherwise). */
  offer: (event: VigieEvent) => void;
}

/** The audit settings check on its schedule: once at start, then every `settingsCheck.intervalMs`. */
export interface SettingsCheck {
  /** Starts the schedule when the check is enabled. */
  start(): void;
  stop(): void;
}

export function createSettingsCheck({ config, metrics, logger, offer }: SettingsCheckOptions): SettingsCheck {
  const logCheckFailed = rateLimited(60_000, (suppressed: number, error: string) =>
    logger.warn({ error, suppressed }, 'audit settings check failed; retried at the next interval'),
  );
  let timer: NodeJS.Timeout | undefined;
  let checking = false;

  /** Reads the server's audit settings and sends what drifted (an empty drift clears an earlier alert). */
  async function check(): Promise<void> {
    if (checking) return;
    checking = true;
    try {
      await checkOnce();
    } finally {
      checking = false;
    }
  }

  async function checkOnce(): Promise<void> {
    const c = config.settingsCheck;
    let result: ReturnType<typeof compareSettings>;
    try {
      const snapshot = await readSettings({
        host: c.host,
        port: c.port,
        user: c.user,
        database: c.database,
        ...(c.password !== undefined && { password: c.password }),
        connectionTimeoutMillis: 10_000,
      });
      result = compareSettings(snapshot, {
        format: config.source.format,
        pgauditClasses: c.pgauditClasses,
        allow: c.allow,
      });
    } catch (error) {
      metrics.settingsChecks.inc({ outcome: 'failed' });
      logCheckFailed(describeError(error));
      return;
    }
    metrics.settingsChecks.inc({ outcome: result.drift.length === 0 ? 'ok' : 'drift' });
    metrics.settingsDrift.set(result.drift.length);
    if (result.drift.length > 0) logger.error({ drift: result.drift }, 'server audit settings drifted');
    offer(auditSettingsEvent(config.cluster, config.instance, result, new Date()));
  }

  return {
    start() {
      if (!config.settingsCheck.enabled) return;
      void check();
      timer = setInterval(() => void check(), config.settingsCheck.intervalMs);
    },
    stop: () => clearInterval(timer),
  };
}
