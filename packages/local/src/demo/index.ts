export * from './conditional.js';
export * from './content.js';
export * from './errors.js';
export * from './manifest.js';
export * from './random.js';
export * from './server.js';
export * from './sources.js';
