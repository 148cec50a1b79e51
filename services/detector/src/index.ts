export { createDetector, type Detector, type DetectorDeps } from './app.js';
export { DetectorConfig, DEFAULT_DETECTOR_PORT, type DetectorConfigInput } from './config.js';
export { main } from './main.js';
export type { AlertListener } from './sinks/batch-handler.js';
export type { DetectorEngine, EngineOptions, PrivilegedRoles } from './engine/types.js';
