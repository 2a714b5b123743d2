// Every module imports zod as a namespace (`import * as z from 'zod'`): with the
// named `z` export, esbuild keeps all of zod's locales (about 360 KB more per function bundle).
export * from './cadence.js';
export * from './errors.js';
export * from './events.js';
export * from './html-charset.js';
export * from './ids.js';
export * from './keys.js';
export * from './limits.js';
export * from './manifest.js';
export * from './packs.js';
export * from './payload.js';
export * from './prices.js';
export * from './record-key.js';
export * from './record-selection.js';
export * from './record-views.js';
export * from './records.js';
export * from './redact.js';
export * from './redact-payload.js';
export * from './run-status.js';
export * from './run-walk.js';
export * from './runtime.js';
export * from './s3-errors.js';
export * from './schedule.js';
export * from './selectors.js';
export * from './source-state.js';
export * from './topology.js';
export * from './validate.js';
