/**
 * Base of every Vigie error: a stable `VIGIE_<AREA>_<WHAT>` code, whether retrying can help, typed context and the
 * original cause (never lost). Retry layers act on `retriable` alone.
 */
export class VigieError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly options: { retriable?: boolean; cause?: unknown; context?: Record<string, unknown> } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'VigieError';
  }
  get retriable(): boolean {
    return this.options.retriable ?? false;
  }
  get context(): Record<string, unknown> {
    return this.options.context ?? {};
  }
}

/** One problem in a configuration: where, what was expected, what was found. */
export interface ConfigProblem {
  path: string;
  expected: string;
  found: string;
}

/** Invalid configuration: every problem listed; the service must not start (exit code 2). */
export class ConfigError extends VigieError {
  constructor(
    readonly source: string,
    readonly problems: ConfigProblem[],
  ) {
    super(
      'VIGIE_CONFIG_INVALID',
      `invalid configuration (${source}):\n${problems
        .map((p) => `  - ${p.path || '(root)'}: expected ${p.expected}, found ${p.found}`)
        .join('\n')}`,
    );
    this.name = 'ConfigError';
  }
}
