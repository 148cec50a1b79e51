import { defineErrors } from '@vigie/errors';

/**
 * Error codes of the detector: engine, catalog reads, alert store, Alertmanager, response, evidence pages. Its HTTP
 * API also answers with `@vigie/runtime`'s `VIGIE_API_*` codes.
 */
export const DETECTOR_ERRORS = defineErrors({
  NOT_STARTED: ['VIGIE_DETECTOR_NOT_STARTED', 'alerts were to be published before the Kafka producer started (a bug)'],
  INPUT_PARTITIONS: [
    'VIGIE_DETECTOR_INPUT_PARTITIONS',
    'the input topics do not all have the same number of partitions',
  ],
  RULES_INVALID: ['VIGIE_DETECTOR_RULES_INVALID', 'the engine was given rules not produced by loadRules'],
  PRIVILEGED_QUERY: ['VIGIE_DETECTOR_PRIVILEGED_QUERY', 'privileged roles could not be read from the catalog'],
  ROLES_QUERY: ['VIGIE_DETECTOR_ROLES_QUERY', 'login roles could not be read from the catalog'],
  STORE_MIGRATION: ['VIGIE_STORE_MIGRATION', 'the alert store cannot be migrated or its migrations read'],
  STORE_MIGRATION_PENDING: [
    'VIGIE_STORE_MIGRATION_PENDING',
    'the store schema lacks migrations and no owner connection',
  ],
  STORE_SCHEMA: ['VIGIE_STORE_SCHEMA', 'store.schema is not a valid schema name'],
  STORE_WRITE: ['VIGIE_STORE_WRITE', 'an alert store read or write failed (retried)'],
  ALERTMANAGER_PUSH: ['VIGIE_ALERTMANAGER_PUSH', 'Alertmanager refused alerts or did not answer'],
  RESPOND_DISABLED: ['VIGIE_RESPOND_DISABLED', 'a response was asked of a detector without responder.connectionString'],
  RESPOND_REFUSED: ['VIGIE_RESPOND_REFUSED', 'a response was refused by the policy (every reason listed)'],
  WEB_CSRF: ['VIGIE_WEB_CSRF', "a form came without this session's CSRF token"],
  WEB_SIGNIN_FAILED: ['VIGIE_WEB_SIGNIN_FAILED', 'the token typed at /signin is not valid'],
  WEB_NOT_FOUND: ['VIGIE_WEB_NOT_FOUND', 'no alert has this reference'],
  WEB_BAD_FORM: ['VIGIE_WEB_BAD_FORM', 'a form field is invalid (a comment over 2000 characters)'],
});
