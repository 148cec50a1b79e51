export * from './config.js';
export * from './errors.js';
export * from './http-server.js';
export * from './logger.js';
export * from './main.js';
export * from './metrics.js';
export * from './service-args.js';
export * from './wait-for.js';
