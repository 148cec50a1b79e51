import { describeError, type Logger } from '@vigie/runtime';

/** The detector's periodic tasks: each runs every so often, logs its failures and stops with the service. */
export interface Periodic {
  /** Runs `fn` every `ms` (unref'd: it never holds the process); a failure is logged and the next run comes. */
  every(ms: number, fn: () => Promise<void>): void;
  /** Stops every task. */
  clear(): void;
}

/** Creates the {@link Periodic} task list. */
export function createPeriodic(logger: Logger): Periodic {
  const timers: NodeJS.Timeout[] = [];
  return {
    every(ms, fn) {
      const t = setInterval(() => {
        fn().catch((error: unknown) => logger.warn({ error: describeError(error) }, 'periodic task failed'));
      }, ms);
      t.unref();
      timers.push(t);
    },
    clear() {
      for (const t of timers) clearInterval(t);
    },
  };
}

/**
 * `fn` now, at most one run at a time (a call during a run asks for one more after it), and once again
 * `settleMs` later: pgaudit logs a GRANT when it runs, and its transaction may commit a moment after the detector
 * reads the catalog.
 */
export function coalesce(fn: () => Promise<void>, onError: (error: unknown) => void, settleMs = 5_000): () => void {
  let running = false;
  let again = false;
  const run = (): void => {
    if (running) {
      again = true;
      return;
    }
    running = true;
    fn()
      .catch(onError)
      .finally(() => {
        running = false;
        if (again) {
          again = false;
          run();
        }
      });
  };
  return () => {
    run();
    const t = setTimeout(run, settleMs);
    t.unref();
  };
}
