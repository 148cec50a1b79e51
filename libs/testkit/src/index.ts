export * from './kafka.js';
export * from './pg.js';
export * from './stack.js';
export * from './private-postgres.js';
export * from './service.js';
export * from './private-kafka.js';
export * from './exclusive.js';
export * from './real-clock.js';
