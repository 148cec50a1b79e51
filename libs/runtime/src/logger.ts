import { pino, type Logger, type LoggerOptions } from 'pino';

export type { Logger } from 'pino';

/** Options of {@link createLogger}. */
export interface LoggerSettings {
  level?: string;
  /** Where lines go; standard output by default. Tests pass a stream to read them back. */
  destination?: NodeJS.WritableStream;
}

/**
 * The service logger: JSON lines (pino). Service logs carry codes, counts and positions, never statement text,
 * parameter values, user-supplied strings or anything personal.
 */
export function createLogger(service: string, { level = 'info', destination }: LoggerSettings = {}): Logger {
  const options: LoggerOptions = {
    name: service,
    level,
    base: { service },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
  };
  return destination ? pino(options, destination) : pino(options);
}

/**
 * Wraps a log call so it fires at most once per `intervalMs` and reports how many calls it swallowed: a flood of
 * bad lines must not become a flood of log lines.
 */
export function rateLimited<A extends unknown[]>(
  intervalMs: number,
  fn: (suppressed: number, ...args: A) => void,
  now: () => number = Date.now,
): (...args: A) => void {
  let last = -Infinity;
  let suppressed = 0;
  return (...args: A) => {
    const t = now();
    if (t - last >= intervalMs) {
      last = t;
      fn(suppressed, ...args);
      suppressed = 0;
    } else {
      suppressed += 1;
    }
  };
}
