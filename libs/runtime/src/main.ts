import type { Logger } from 'pino';
import { ConfigError } from './errors.js';

/** Something a service stops on SIGINT/SIGTERM, in the reverse order it was started. */
export type Stopper = () => Promise<void>;

/** Exit codes of every Vigie command. */
export const EXIT = { ok: 0, failure: 1, config: 2 } as const;

/**
 * Runs a service's `start` and keeps it until SIGINT/SIGTERM, then awaits its stopper (flush, checkpoint,
 * disconnect) before exiting. Invalid configuration prints every problem and exits 2. Only `main.ts` files call it.
 */
export async function runService(
  start: () => Promise<{ stop: Stopper; logger: Logger }>,
  { stopTimeoutMs = 15_000 }: { stopTimeoutMs?: number } = {},
): Promise<void> {
  let running: { stop: Stopper; logger: Logger };
  try {
    running = await start();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(EXIT.config);
    }
    process.stderr.write(`failed to start: ${describeError(error)}\n`);
    process.exit(EXIT.failure);
  }
  let stopping = false;
  const shutdown = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    running.logger.info({ signal }, 'stopping');
    const timer = setTimeout(() => {
      running.logger.error({ stopTimeoutMs }, 'stop timed out; exiting');
      process.exit(EXIT.failure);
    }, stopTimeoutMs);
    timer.unref();
    running.stop().then(
      () => {
        running.logger.info('stopped');
        process.exit(EXIT.ok);
      },
      (error: unknown) => {
        running.logger.error({ err: error }, 'stop failed');
        process.exit(EXIT.failure);
      },
    );
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
}

/** One line describing an error with its code and cause chain, without stack noise. */
export function describeError(error: unknown): string {
  const parts: string[] = [];
  let cur: unknown = error;
  for (let depth = 0; cur !== undefined && cur !== null && depth < 5; depth += 1) {
    if (cur instanceof Error) {
      const code = (cur as { code?: unknown }).code;
      parts.push(typeof code === 'string' ? `${code}: ${cur.message}` : cur.message);
      cur = cur.cause;
    } else {
      parts.push(String(cur));
      break;
    }
  }
  return parts.join(' <- ');
}
