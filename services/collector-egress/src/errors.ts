import { defineErrors } from '@vigie/errors';

/**
 * Error codes of collector-egress: startup checks (listed in a `VIGIE_CONFIG_INVALID` error) and sampling rounds
 * (thrown, and named in its heartbeat's source health).
 */
export const EGRESS_ERRORS = defineErrors({
  SS_MISSING: ['VIGIE_EGRESS_SS_MISSING', '`ss` (iproute2) is not installed or does not run'],
  STDBUF_MISSING: ['VIGIE_EGRESS_STDBUF_MISSING', '`stdbuf` (coreutils) is not installed or does not run'],
  NO_LISTENER: ['VIGIE_EGRESS_NO_LISTENER', 'nothing listens on serverPort on this host'],
  NO_CLOSE_EVENTS: ['VIGIE_EGRESS_NO_CLOSE_EVENTS', 'socket-close events do not reach the collector'],
  PG_CONNECT: ['VIGIE_EGRESS_PG_CONNECT', 'the startup check cannot connect to PostgreSQL'],
  PG_STATS_ROLE: ['VIGIE_EGRESS_PG_STATS_ROLE', "the collector's role cannot see other sessions in pg_stat_activity"],
  SS_FAILED: ['VIGIE_EGRESS_SS_FAILED', 'one `ss` sampling round failed (retried)'],
  PG_QUERY: ['VIGIE_EGRESS_PG_QUERY', 'one pg_stat_activity query failed (retried)'],
});
