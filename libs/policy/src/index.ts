export * from './compiled.js';
export * from './load.js';
export * from './match.js';
export * from './schema.js';
export * from './business-hours.js';
export * from './duration.js';
export * from './warnings.js';
