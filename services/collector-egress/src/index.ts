export { createEgressCollector, type EgressCollector, type EgressDeps } from './app.js';
export { EgressConfig, DEFAULT_EGRESS_PORT } from './config.js';
export { main } from './main.js';
export { parseSsLine, parseEndpoint, peerKey, type SsSocket, type Endpoint } from './parse-ss.js';
export { createSocketTracker, type SocketTracker, type KeyedEvent, type JoinFailure } from './analyze-sockets.js';
export { runStartupChecks } from './startup-checks.js';
