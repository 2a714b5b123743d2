export * from './bridge.js';
export * from './client.js';
export * from './errors.js';
export * from './notifications.js';
export * from './operations.js';
export * from './server.js';
