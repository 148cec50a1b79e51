import { defineErrors } from '@vigie/errors';

/** Error codes of @vigie/pglog: reading a whole log file (`vigie replay`). */
export const PGLOG_ERRORS = defineErrors({
  GZIP_CORRUPT: ['VIGIE_PGLOG_GZIP_CORRUPT', 'a gzip log file holds corrupt or truncated data'],
  GZIP_OFFSET: ['VIGIE_PGLOG_GZIP_OFFSET', 'a gzip log file was asked to be read from an offset other than its start'],
});
