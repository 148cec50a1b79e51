/** A loop started by {@link every}. */
export interface Periodic {
  /** No new run starts; resolves once the current one (if any) finished. */
  stop(): Promise<void>;
}

/**
 * Runs `fn` now and then every `intervalMs`, never two runs at once: a run that overruns delays the next one
 * instead of piling up (a slow `ss` or an unreachable Kafka must not start a second round).
 */
export function every(intervalMs: number, fn: () => Promise<void>): Periodic {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let current: Promise<void> = Promise.resolve();
  const loop = (): void => {
    if (stopped) return;
    const startedAt = Date.now();
    current = fn()
      .catch(() => undefined)
      .then(() => {
        if (!stopped) timer = setTimeout(loop, Math.max(0, intervalMs - (Date.now() - startedAt)));
      });
  };
  loop();
  return {
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await current;
    },
  };
}
