export * from './client.js';
export * from './consumer.js';
export * from './producer.js';
export * from './topics.js';
export * from './text-arena.js';
