/** Error codes of `@vigie/sql` (see the troubleshooting table in the README). */
export type SqlErrorCode = 'VIGIE_SQL_INIT' | 'VIGIE_SQL_CONFIG';

/**
 * An error of `@vigie/sql`. Only construction throws (the WebAssembly parser failed to load, invalid options);
 * analysing a statement never does.
 */
export class VigieSqlError extends Error {
  readonly retriable: boolean;

  constructor(
    readonly code: SqlErrorCode,
    message: string,
    options: { retriable?: boolean; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'VigieSqlError';
    this.retriable = options.retriable ?? false;
  }
}
