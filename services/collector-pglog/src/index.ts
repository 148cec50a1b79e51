export { createCollectorPglog, type CollectorDeps, type CollectorPglog } from './app.js';
export { readCheckpoint, writeCheckpoint, type Checkpoint } from './checkpoint.js';
export { CollectorPglogConfig } from './config.js';
export { main } from './main.js';
export { LogTailer, type LogPosition } from './source-tail.js';
