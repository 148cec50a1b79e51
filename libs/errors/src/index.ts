export * from './catalogue.js';
export * from './vigie-error.js';
