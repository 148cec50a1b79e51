export * from './collector-metrics.js';
export * from './outbox.js';
export * from './routes.js';
export * from './stringify-event.js';
