export * from './client.js';
export * from './consumer.js';
export * from './producer.js';
export * from './topics.js';
export * from './text-arena.js';
export * from './security.js';
export { ZSTD_AVAILABLE, type CompressionName } from './wire/compression.js';
export * from './errors.js';
