import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeAlert, TOPICS, type Alert } from '@vigie/contract';
import { evidencePageUrl } from '@vigie/detector';
import { createBatchConsumer, createKafka, type KafkaSettings } from '@vigie/kafka';
import { createLogger, describeError, EXIT, waitFor } from '@vigie/runtime';
import { policyFileFrom } from '@vigie/policy';
import { createAlertPrinter } from './alert-printer.js';
import { localVigieDir, REPO_ROOT, stackDir } from './local-state.js';
import type { ServiceName } from './services.js';
const CLI_BIN = join(REPO_ROOT, 'services/cli/bin/vigie.js');
/** The local detector: API and evidence pages. */
const DETECTOR_URL = 'http://127.0.0.1:18080';

/** One service `vigie start` runs, with the configuration it writes for the local stack. */
interface LocalService {
  name: ServiceName;
  port: number;
  config: Record<string, unknown>;
  /** Why the service cannot run here, if it cannot (it is skipped, and the user is told why). */
  unavailable?: string;
}

/**
 * The `kafka:` block of one local service. The local stack has one broker: its topics have one replica, which
 * cannot survive the loss of that broker — said so, and accepted here (services refuse it by default). With
 * `secure`, the SASL_SSL listener: the stack's CA, the service's own SCRAM user (password file written by
 * stack.sh), the ACLs of deploy/local/kafka/acls.conf.
 */
function localKafka(stateDir: string, user: string, secure: boolean): Omit<KafkaSettings, 'clientId'> {
  const topics = { replicationFactor: 1, minInsyncReplicas: 1, allowUnsafe: true };
  if (!secure) return { brokers: ['127.0.0.1:19092'], topics };
  return {
    brokers: ['127.0.0.1:19095'],
    ssl: { caFile: join(stateDir, 'kafka', 'tls', 'ca.pem') },
    sasl: {
      mechanism: 'scram-sha-512' as const,
      username: user,
      passwordFile: join(stateDir, 'kafka', 'secrets', `${user}.password`),
    },
    topics,
  };
}

function localServices(stateDir: string, vigieDir: string, apiToken: string, secure: boolean): LocalService[] {
  const kafka = (service: string) => localKafka(stateDir, `vigie-${service}`, secure);
  const pg = { host: '127.0.0.1', port: 55432 };
  // The detector expects every collector started here: one that dies, or never starts, is a collector-silent alert.
  const expected = [
    { collector: 'collector-pglog' },
    { collector: 'collector-replication' },
    ...(egressUnavailable() ? [] : [{ collector: 'collector-egress' }]),
  ];
  return [
    {
      name: 'collector-pglog',
      port: 18081,
      config: {
        cluster: 'local',
        source: { format: 'jsonlog', pgData: join(stateDir, 'postgresql', 'data') },
        // First start: only what happens from now on; afterwards the checkpoint resumes exactly.
        checkpoint: { file: join(vigieDir, 'collector-pglog.checkpoint.json'), startAt: 'end' },
        kafka: kafka('collector-pglog'),
        http: { host: '127.0.0.1', port: 18081 },
      },
    },
    {
      name: 'collector-replication',
      port: 18082,
      config: {
        cluster: 'local',
        connection: { ...pg, database: 'app', user: 'vigie_collector', password: 'vigie_collector' },
        // Creating a FOR ALL TABLES publication needs a superuser: the local stack's generic one.
        setup: { user: 'admin', password: 'admin' },
        kafka: kafka('collector-replication'),
        http: { host: '127.0.0.1', port: 18082 },
      },
    },
    {
      name: 'collector-egress',
      port: 18083,
      config: {
        cluster: 'local',
        serverPort: 55432,
        postgres: { ...pg, user: 'vigie_collector', password: 'vigie_collector' },
        kafka: kafka('collector-egress'),
        http: { host: '127.0.0.1', port: 18083 },
      },
      ...(egressUnavailable() ? { unavailable: egressUnavailable() } : {}),
    },
    {
      name: 'detector',
      port: 18080,
      config: {
        // The local stack's published credentials are accepted only in this profile.
        profile: 'local',
        cluster: 'local',
        kafka: kafka('detector'),
        http: { host: '127.0.0.1', port: 18080 },
        api: { token: apiToken },
        store: {
          // Reads and writes alerts (SELECT/INSERT/UPDATE); cannot delete or alter them.
          connectionString: 'postgresql://vigie_detector:vigie_detector@127.0.0.1:55432/vigie',
          // Owns the store: migrations and the runtime role's grants, at startup.
          migrationConnectionString: 'postgresql://vigie:vigie@127.0.0.1:55432/vigie',
        },
        privileged: {
          connectionString: 'postgresql://vigie_collector:vigie_collector@127.0.0.1:55432/postgres',
        },
        alertmanager: { url: 'http://127.0.0.1:19093' },
        collectors: { expected },
      },
    },
  ];
}

function egressUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root to read per-socket counters of other users (ss -tinEH)';
  try {
    execFileSync('ss', ['-V'], { stdio: 'ignore' });
  } catch {
    return '`ss` (Debian package iproute2) is not installed';
  }
  return undefined;
}

/** The API token of the local detector: generated once, kept in the stack's state directory (mode 0600). */
function localApiToken(vigieDir: string): string {
  const file = join(vigieDir, 'api-token');
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  const token = randomBytes(24).toString('base64url');
  writeFileSync(file, `${token}\n`, { mode: 0o600 });
  return token;
}

async function ready(port: number): Promise<boolean> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/readyz`, { signal: AbortSignal.timeout(1000) });
    return res.ok;
  } catch {
    return false;
  }
}

function tail(file: string, lines = 15): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/** The alerts the local detector has open (its API, with the local token); empty when it cannot say. */
async function openAlerts(token: string): Promise<Alert[]> {
  try {
    const res = await fetch(`${DETECTOR_URL}/api/alerts?status=firing&limit=1000`, {
      headers: { authorization: `Bearer ${token}` },
      signal: AbortSignal.timeout(5000),
    });
    if (!res.ok) return [];
    return ((await res.json()) as { alerts: { alert: Alert }[] }).alerts.map((r) => r.alert);
  } catch {
    return [];
  }
}

/**
 * `vigie start` (`npm start`), the README's main job: brings the local stack up if needed, starts every collector
 * that can run here and the detector as child processes (logs under `.stack/logs/vigie/`), prints where to look,
 * then prints alerts as they arrive on `vigie.alerts.v1`. Ctrl-C stops what it started (the stack keeps running).
 */
export async function startMain(args: string[], env: Record<string, string | undefined>): Promise<void> {
  // --secure: every service and the alert reader reach Kafka over SASL_SSL (127.0.0.1:19095) as its own user.
  const secure = args.includes('--secure');
  const startedAtMs = Date.now();
  const stateDir = stackDir(env);
  process.stdout.write('vigie start: bringing the local stack up (first run installs it: a few minutes)\n');
  execFileSync('bash', [join(REPO_ROOT, 'deploy/local/stack.sh'), 'up'], { stdio: 'inherit', env: process.env });

  // Vigie's own state (configurations, checkpoint, API token, service logs); VIGIE_START_DIR moves it (tests).
  const vigieDir = localVigieDir(env);
  const logDir = env['VIGIE_START_DIR'] ? join(vigieDir, 'logs') : join(stateDir, 'logs', 'vigie');
  // Configurations with passwords, the API token, a checkpoint: this user's only.
  mkdirSync(vigieDir, { recursive: true, mode: 0o700 });
  mkdirSync(logDir, { recursive: true });
  const token = localApiToken(vigieDir);
  const policy = policyFileFrom(undefined, env);

  const children: { service: LocalService; child: ChildProcess; log: string; ready: boolean }[] = [];
  let stopping = false;
  const stopAll = async (code: number) => {
    if (stopping) return;
    stopping = true;
    for (const { child } of children) child.kill('SIGTERM');
    await Promise.all(
      children.map(
        ({ child }) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolve();
            const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
            child.once('exit', () => {
              clearTimeout(timer);
              resolve();
            });
          }),
      ),
    );
    process.exit(code);
  };
  process.on('SIGINT', () => void stopAll(EXIT.ok));
  process.on('SIGTERM', () => void stopAll(EXIT.ok));

  for (const service of localServices(stateDir, vigieDir, token, secure)) {
    if (service.unavailable) {
      process.stdout.write(`  ${service.name}: skipped (${service.unavailable})\n`);
      continue;
    }
    const configFile = join(vigieDir, `${service.name}.yaml`);
    // JSON is YAML: the services read it as their configuration file.
    writeFileSync(configFile, `${JSON.stringify(service.config, null, 2)}\n`, { mode: 0o600 });
    const log = join(logDir, `${service.name}.log`);
    const fd = openSync(log, 'a');
    const child = spawn(process.execPath, [CLI_BIN, 'run', service.name, '--config', configFile, '--policy', policy], {
      stdio: ['ignore', fd, fd],
      env: process.env,
    });
    const entry = { service, child, log, ready: false };
    children.push(entry);
    // Where to find it (a test stops one collector to see the dead-man switch fire).
    const pidFile = join(vigieDir, `${service.name}.pid`);
    if (child.pid !== undefined) writeFileSync(pidFile, `${child.pid}\n`);
    child.once('exit', (code, signal) => {
      rmSync(pidFile, { force: true });
      if (stopping) return;
      process.stderr.write(
        `vigie start: ${service.name} exited (${signal ?? `code ${code}`}); last lines of ${log}:\n${tail(log)}\n`,
      );
      // Before everything is up, a service that dies is a failed start. Afterwards the others keep watching: the
      // detector reports a dead collector (collector-silent) and Prometheus a dead detector, as on a real site.
      if (!entry.ready) void stopAll(EXIT.failure);
      else process.stderr.write(`vigie start: the other services keep running (Ctrl-C stops them)\n`);
    });
  }

  for (const entry of children) {
    const { service, log } = entry;
    try {
      await waitFor(() => ready(service.port), { timeoutMs: 60_000, intervalMs: 250, what: `${service.name} ready` });
      entry.ready = true;
      process.stdout.write(`  ${service.name}: ready on http://127.0.0.1:${service.port}\n`);
    } catch {
      process.stderr.write(
        `vigie start: ${service.name} is not ready after 60 s; last lines of ${log}:\n${tail(log)}\n`,
      );
      await stopAll(EXIT.failure);
    }
  }

  const tokenFile = join(vigieDir, 'api-token');
  // Each incident once when it opens, then a line when its severity rises or it resolves; those already open
  // (from an earlier run, restored by the detector) are counted, not reprinted.
  const printer = createAlertPrinter({ startedAtMs, pageUrl: (a) => evidencePageUrl(DETECTOR_URL, a.id) });
  const openLines = printer.alreadyOpen(await openAlerts(token), `${DETECTOR_URL}/alerts`);
  process.stdout.write(`
Vigie is watching the local cluster (PostgreSQL 127.0.0.1:55432, policy ${policy}).
  Evidence pages ${DETECTOR_URL}/alerts    (sign in with the token in ${tokenFile})
  Kafka          ${secure ? '127.0.0.1:19095 (SASL_SSL, one SCRAM user per service)' : '127.0.0.1:19092 (plain; --secure for SASL_SSL)'}
  Alerts API     curl -H 'Authorization: Bearer ${token}' http://127.0.0.1:18080/api/alerts
  OpenAPI        http://127.0.0.1:18080/api/openapi.json
  Alertmanager   http://127.0.0.1:19093/#/alerts    (API: http://127.0.0.1:19093/api/v2/alerts)
  Notifications  http://127.0.0.1:19096/notifications (what on-call receives; the stack's stand-in receiver)
  Prometheus     http://127.0.0.1:19090/graph       (Vigie's metrics: ${children.map((c) => `:${c.service.port}/metrics`).join(' ')})
  Grafana        provision grafana/provisioning (datasource + dashboards in grafana/dashboards)
  Service logs   ${logDir}/
Try it from another terminal:
  PGPASSWORD=dba_alice pg_dump -h 127.0.0.1 -p 55432 -U dba_alice app > /dev/null
Then open the evidence URL printed with the alert (or ${DETECTOR_URL}/alerts) and sign in with that token.
${openLines.join('\n')}
Waiting for alerts (Ctrl-C stops Vigie; the stack keeps running: npm run stack -- down)
`);

  const logger = createLogger('vigie-start', { level: 'error' });
  const kafka = createKafka({ clientId: 'vigie-start', ...localKafka(stateDir, 'vigie-start', secure) }, logger);
  const consumer = createBatchConsumer(kafka, {
    groupId: `vigie-start-${randomBytes(4).toString('hex')}`,
    topics: [TOPICS.alerts],
    fromBeginning: false,
    logger,
    handleBatch: async ({ messages }) => {
      for (const message of messages) {
        if (!message.value) continue;
        const decoded = decodeAlert(message.value);
        if (!decoded.ok) continue;
        for (const line of printer.observe(decoded.value)) process.stdout.write(`${line}\n`);
      }
    },
  });
  try {
    await consumer.start();
  } catch (error) {
    process.stderr.write(`vigie start: cannot read ${TOPICS.alerts}: ${describeError(error)}\n`);
    await stopAll(EXIT.failure);
  }
}
