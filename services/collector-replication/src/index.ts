export { createReplicationCollector } from './app.js';
export type { ReplicationCollector, ReplicationCollectorDeps } from './app.js';
export { ReplicationConfig, DEFAULT_REPLICATION_PORT } from './config.js';
export { main } from './main.js';
export { isValidIban, isValidNir, ibanCheckDigits, nirKey } from './pii-validators.js';
export { scanValue, PersonalDataTally } from './analyze-personal-data.js';
export { parseLsn, formatLsn } from './lsn.js';
