import type { ErrorCode } from './catalogue.js';

/** What a {@link VigieError} carries besides its code and message. */
export interface VigieErrorOptions {
  /** Whether trying again can help (a connection, a busy server); retry layers act on this flag alone. */
  retriable?: boolean;
  /** The error this one explains; never dropped. */
  cause?: unknown;
  /** Typed facts about the failure (a file, a topic, an offset). */
  context?: Record<string, unknown>;
  /** What the operator can do about it, in one sentence (the README's troubleshooting table has the long form). */
  hint?: string;
}

/**
 * Base of every Vigie error: a stable `VIGIE_<AREA>_<WHAT>` code from its package's catalogue, whether retrying can
 * help, typed context, an optional hint and the original cause (never lost). Retry layers act on `retriable` alone.
 */
export class VigieError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly options: VigieErrorOptions = {},
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
  get hint(): string | undefined {
    return this.options.hint;
  }
}
