// The schemas are zod/mini's, imported as a namespace (`import * as z from 'zod/mini'`): with
// the named `z` export, esbuild keeps all of zod's locales (about 360 KB more per function
// bundle). zod/mini rather than the full zod, and each schema built on first use (`z.lazy`,
// `buildOnce`), because a function's cold start paid for both: loading the full zod and
// building every schema of the contract took about as long as loading the SDK clients
// (packages/bench, case 4). Issues are worded by zod's English locale (validate.ts), as before.
export * from './cadence.js';
export * from './errors.js';
export * from './events.js';
export * from './follow.js';
export * from './html-charset.js';
export * from './ids.js';
export * from './keys.js';
export * from './limits.js';
export * from './manifest.js';
export * from './origins.js';
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
