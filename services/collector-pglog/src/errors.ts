import { defineErrors } from '@vigie/errors';

/** Error codes of collector-pglog (thrown, or named in its heartbeat's source health). */
export const PGLOG_ERRORS = defineErrors({
  CHECKPOINT_READ: ['VIGIE_PGLOG_CHECKPOINT_READ', 'the checkpoint file exists but cannot be read'],
  CHECKPOINT_CORRUPT: ['VIGIE_PGLOG_CHECKPOINT_CORRUPT', 'the checkpoint file is not a valid checkpoint'],
  CHECKPOINT_WRITE: ['VIGIE_PGLOG_CHECKPOINT_WRITE', 'the checkpoint cannot be written (retried at each interval)'],
  SETTINGS_CHECK: ['VIGIE_PGLOG_SETTINGS_CHECK', "the audit settings check could not read the server's settings"],
  SOURCE_READ: ['VIGIE_PGLOG_SOURCE_READ', 'a log file cannot be opened or read (retried; the errno says why)'],
  READ_LOOP: ['VIGIE_PGLOG_READ_LOOP', 'the read loop met an error that is not from the file system (a bug): it stops'],
});
