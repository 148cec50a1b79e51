import { type ChildProcess, spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, writeFileSync, openSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from '@vigie/runtime';
import { REPO_ROOT } from './stack.js';

/** A Vigie service running as a real child process of the `vigie` command. */
export interface RunningService {
  readonly port: number;
  /** The process id (benchmarks read its CPU time and peak memory from /proc). */
  readonly pid: number;
  readonly dir: string;
  readonly logFile: string;
  /** SIGTERM, wait for a clean exit (the service flushes and checkpoints). */
  stop(): Promise<number | null>;
  /** SIGKILL: a crash, nothing flushed. */
  kill(): Promise<void>;
  /** The service's log so far (JSON lines). */
  log(): string;
}

/** A loopback port nobody listens on right now. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

/**
 * Runs `vigie run <service> --config <file> --policy <file>` from the built workspace (`tsc -b` first) and waits
 * for its `/readyz` (or `/healthz`). `config.http.port` is set to a free port. The configuration is written as JSON (valid YAML).
 */
export async function startService(
  service: 'collector-pglog' | 'collector-replication' | 'collector-egress' | 'detector',
  config: Record<string, unknown>,
  {
    policyFile,
    readyTimeoutMs = 60_000,
    env = {},
    waitFor: probe = 'readyz',
    runAs,
    port: fixedPort,
  }: {
    policyFile?: string;
    readyTimeoutMs?: number;
    env?: Record<string, string>;
    /** `healthz` for a service expected to run but not be ready (e.g. it reports a lost replication slot). */
    waitFor?: 'readyz' | 'healthz';
    /**
     * Run the service as this OS user and group instead of root (a collector in the `postgres` group, as in
     * production: root reads every file whatever its mode). Its configuration is then made readable to others.
     */
    runAs?: { uid: number; gid: number };
    /**
     * Listen on this port instead of a free one: the service's default port, which the local stack's Prometheus
     * scrapes (hold `exclusive('vigie-start')` meanwhile: `vigie start` uses the same ports).
     */
    port?: number;
  } = {},
): Promise<RunningService> {
  const dir = mkdtempSync(join(tmpdir(), `vigie-${service}-`));
  if (runAs) chmodSync(dir, 0o755);
  const port = fixedPort ?? (await freePort());
  const configFile = join(dir, 'config.yaml');
  const http = { ...((config['http'] as Record<string, unknown> | undefined) ?? {}), host: '127.0.0.1', port };
  writeFileSync(configFile, JSON.stringify({ ...config, http }, null, 2), runAs ? { mode: 0o644 } : {});
  const logFile = join(dir, 'service.log');
  const fd = openSync(logFile, 'a');
  const args = [join(REPO_ROOT, 'services/cli/bin/vigie.js'), 'run', service, '--config', configFile];
  if (policyFile) args.push('--policy', policyFile);
  const child = spawn(process.execPath, args, {
    stdio: ['ignore', fd, fd],
    env: { ...process.env, ...env },
    ...(runAs && { uid: runAs.uid, gid: runAs.gid }),
  });
  const log = () => {
    try {
      return readFileSync(logFile, 'utf8');
    } catch {
      return '';
    }
  };
  try {
    await waitFor(
      async () => {
        if (child.exitCode !== null) throw new Error(`${service} exited with ${child.exitCode}:\n${log()}`);
        const res = await fetch(`http://127.0.0.1:${port}/${probe}`, { signal: AbortSignal.timeout(1000) });
        return res.ok;
      },
      { timeoutMs: readyTimeoutMs, intervalMs: 200, what: `${service} /${probe}` },
    );
  } catch (error) {
    child.kill('SIGKILL');
    throw new Error(`${service} did not become ready: ${(error as Error).message}\n--- log ---\n${log()}`);
  }
  return {
    port,
    pid: child.pid ?? -1,
    dir,
    logFile,
    log,
    async stop() {
      child.kill('SIGTERM');
      return exited(child);
    },
    async kill() {
      child.kill('SIGKILL');
      await exited(child);
    },
  };
}
