export { DeadLetterStore } from './dead-letters.js';
export * from './errors.js';
export { ACCOUNT_ID, functionArn, INIT_TIMEOUT_MS } from './function-runtime.js';
export { parseFunctionReference } from './http.js';
export {
  type InvocationType,
  type InvokeRequest,
  type InvokeResult,
  LocalLambda,
} from './local-lambda.js';
export { afterFailure, emulatedAgeMs, RETRY_DELAYS_MS, retryDelayMs } from './retry-policy.js';
export type * from './types.js';
