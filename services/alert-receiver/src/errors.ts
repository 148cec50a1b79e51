import { defineErrors } from '@vigie/errors';

/** Error codes of the local alert receiver (HTTP 400 answers). */
export const RECEIVER_ERRORS = defineErrors({
  BAD_PAYLOAD: ['VIGIE_RECEIVER_BAD_PAYLOAD', 'a POST body is not an Alertmanager webhook payload (version 4)'],
  BAD_QUERY: [
    'VIGIE_RECEIVER_BAD_QUERY',
    'GET /notifications got an unknown or invalid parameter (alert_id, route, status)',
  ],
});
