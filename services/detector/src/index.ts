export { createDetector, type Detector, type DetectorDeps } from './app.js';
export { DetectorConfig, DEFAULT_DETECTOR_PORT, type DetectorConfigInput } from './config.js';
export { main } from './main.js';
export type { AlertListener } from './batch-handler.js';
export type { DetectorEngine, EngineOptions, PrivilegedRoles } from './engine/types.js';
// Building blocks for benchmarks and for embedding the pipeline without Kafka.
export { createBatchHandler, type BatchHandler, type BatchSinks } from './batch-handler.js';
export { createDetectorMetrics, type DetectorMetrics } from './metrics.js';
export { createTimelineRecorder, type TimelineRecorder } from './sinks/store/timeline.js';
export { createEngine } from './engine/index.js';
export { loadRules } from './rules/load.js';

// What `vigie replay` (in the CLI) composes with @vigie/pglog, besides createEngine and loadRules above.
export type { RuleSet } from './engine/rule-api.js';
export { createPrivilegedRoles } from './privileged-roles.js';
export { storeMigrateMain } from './sinks/store/migrate-main.js';
// The evidence page of an alert (what `vigie start` prints and Alertmanager links to).
export { alertRef } from './sinks/store/alert-store.js';
export { evidencePageUrl } from './sinks/alertmanager/alertmanager.js';
export { rulesTestMain } from './rule-testing/rules-test.js';
