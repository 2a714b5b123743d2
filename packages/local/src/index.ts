export * from './chaos.js';
export { main } from './cli.js';
export * from './cloud.js';
export * from './commands/summary.js';
export * from './config.js';
export * from './errors.js';
export * from './replay.js';
export * from './run-records.js';
export * from './session.js';
