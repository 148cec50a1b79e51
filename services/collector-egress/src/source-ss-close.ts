import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { backoffMs, type Logger } from '@vigie/runtime';
import { parseSsLine, type SsRejectReason, type SsSocket } from './parse-ss.js';

/** Options of {@link createCloseWatcher}. */
export interface CloseWatcherOptions {
  ssCommand: string;
  stdbufCommand: string;
  serverPort: number;
  logger: Logger;
  /** Final counters of a server socket that just closed. */
  onClose(socket: SsSocket, at: Date): void;
  onRejected?(reason: SsRejectReason): void;
  /** The child exited and is being restarted (counted). */
  onRestart?(): void;
  maxBackoffMs?: number;
}

/** The long-running `ss -tinEHO` child: the kernel's final counters of every TCP socket as it is destroyed. */
export interface CloseWatcher {
  start(): void;
  stop(): Promise<void>;
  /** True while a child is running. */
  readonly running: boolean;
}

/**
 * Follows socket-close events with `stdbuf -oL ss -tinEHO`. Two facts measured on Debian 12 (iproute2 6.1):
 * a filter expression makes `ss -E` print nothing at all, so the child is unfiltered and lines are filtered here
 * by the local port (a cheap substring test first); and ss block-buffers a pipe, so without `stdbuf -oL` events
 * arrive 4 KiB late. The child is restarted with backoff whenever it exits.
 */
export function createCloseWatcher({
  ssCommand,
  stdbufCommand,
  serverPort,
  logger,
  onClose,
  onRejected,
  onRestart,
  maxBackoffMs = 10_000,
}: CloseWatcherOptions): CloseWatcher {
  let child: ChildProcess | undefined;
  let stopped = true;
  let attempt = 0;
  let timer: NodeJS.Timeout | undefined;
  const needle = `:${serverPort} `;

  const launch = (): void => {
    if (stopped) return;
    const startedAt = Date.now();
    const proc = spawn(stdbufCommand, ['-oL', ssCommand, '-tinEHO'], { stdio: ['ignore', 'pipe', 'pipe'] });
    child = proc;
    const lines = createInterface({ input: proc.stdout });
    lines.on('line', (line) => {
      if (!line.includes(needle)) return;
      const parsed = parseSsLine(line);
      if (!parsed.ok) {
        onRejected?.(parsed.reason);
        return;
      }
      onClose(parsed.socket, new Date());
    });
    let stderr = '';
    proc.stderr.on('data', (chunk: Buffer) => {
      if (stderr.length < 2000) stderr += chunk.toString('utf8');
    });
    proc.on('error', (error) => logger.error({ err: error }, 'close-event child could not start'));
    proc.on('close', (code, signal) => {
      child = undefined;
      if (stopped) return;
      // A child that ran for a while was healthy: start the backoff again from zero.
      attempt = Date.now() - startedAt > 60_000 ? 0 : attempt + 1;
      logger.warn({ code, signal, stderr: stderr.slice(0, 500), attempt }, 'close-event child exited; restarting');
      onRestart?.();
      timer = setTimeout(launch, backoffMs(attempt, { baseMs: 200, maxMs: maxBackoffMs }));
    });
  };

  return {
    start() {
      if (!stopped) return;
      stopped = false;
      launch();
    },
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      const proc = child;
      if (!proc) return;
      await new Promise<void>((resolve) => {
        proc.once('close', () => resolve());
        proc.kill('SIGTERM');
      });
    },
    get running() {
      return child !== undefined;
    },
  };
}
