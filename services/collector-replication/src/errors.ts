import { defineErrors } from '@vigie/errors';

/** Error codes of collector-replication (thrown, or named in its heartbeat's source health). */
export const REPLICATION_ERRORS = defineErrors({
  CONNECT: ['VIGIE_REPLICATION_CONNECT', 'PostgreSQL cannot be reached to set up replication'],
  PUBLICATION_MISSING: [
    'VIGIE_REPLICATION_PUBLICATION_MISSING',
    'the publication does not exist and no setup.user may create it',
  ],
  PUBLICATION_CREATE: ['VIGIE_REPLICATION_PUBLICATION_CREATE', 'the publication could not be created'],
  SLOT_CONFLICT: ['VIGIE_REPLICATION_SLOT_CONFLICT', 'the slot exists with another plugin or database'],
  SLOT_CREATE: ['VIGIE_REPLICATION_SLOT_CREATE', 'the slot could not be created'],
  SLOT_MISSING: ['VIGIE_REPLICATION_SLOT_MISSING', 'the slot disappeared'],
  SLOT_LOST: ['VIGIE_REPLICATION_SLOT_LOST', "the slot's WAL was removed: a permanent gap in change data"],
  STREAM: ['VIGIE_REPLICATION_STREAM', 'the replication stream is down (heartbeat health, with the cause code)'],
});
