export { createReplicationCollector } from './app.js';
export type { ReplicationCollector, ReplicationCollectorDeps } from './app.js';
export { ReplicationConfig, DEFAULT_REPLICATION_PORT } from './config.js';
export { main } from './main.js';
export { isValidIban, isValidNir, ibanCheckDigits, nirKey } from './pii-validators.js';
export { scanValue, PersonalDataTally } from './analyze-personal-data.js';
export type { PersonalDataType } from './analyze-personal-data.js';
export { parseLsn, formatLsn } from './lsn.js';
// The pipeline's parts, for the benchmark (bench/replication-drain.ts) and for tools that embed the stream.
export { createReplicationSource } from './source-replication.js';
export type { ReplicationSource, StreamHandler } from './source-replication.js';
export { createTxnAggregator } from './aggregate-txn.js';
export type { TxnAggregator, CompletedTxn } from './aggregate-txn.js';
export { ensureReplication } from './setup-replication.js';
