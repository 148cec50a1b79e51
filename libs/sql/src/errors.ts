import { defineErrors, VigieError, type VigieErrorOptions } from '@vigie/errors';

/** Error codes of `@vigie/sql`. */
export const SQL_ERRORS = defineErrors({
  INIT: ['VIGIE_SQL_INIT', 'the PostgreSQL parser (libpg-query WebAssembly) failed to load'],
  CONFIG: ['VIGIE_SQL_CONFIG', 'the analyzer was given an invalid option (a size that is not a non-negative integer)'],
});

/** A code of {@link SQL_ERRORS}. */
export type SqlErrorCode = (typeof SQL_ERRORS)[keyof typeof SQL_ERRORS];

/**
 * An error of `@vigie/sql`. Only construction throws (the WebAssembly parser failed to load, invalid options);
 * analysing a statement never does.
 */
export class VigieSqlError extends VigieError {
  declare readonly code: SqlErrorCode;

  constructor(code: SqlErrorCode, message: string, options: Pick<VigieErrorOptions, 'retriable' | 'cause'> = {}) {
    super(code, message, options);
    this.name = 'VigieSqlError';
  }
}
