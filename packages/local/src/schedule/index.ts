export * from './errors.js';
export * from './event.js';
export * from './schedule.js';
export * from './timer.js';
