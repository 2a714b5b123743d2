export { awsSecretStore, EmptySecretError } from './aws-secret-store.js';
export { type BufferedBody, type ReadBodyOptions, readBody } from './body.js';
export {
  type BatchSummary,
  type CollectorDeps,
  collectBatch,
  hopLimitReason,
} from './collect.js';
export {
  collectTask,
  type DownloadSummary,
  partialKey,
  type TaskResult,
} from './collect-task.js';
export {
  type CollectorConfig,
  type CollectorSettings,
  DEFAULT_SETTINGS,
  loadConfig,
  SETTINGS,
} from './config.js';
export {
  type InvokeContinuation,
  isTransientInvokeError,
  lambdaContinuationInvoker,
} from './continuation.js';
export * from './errors.js';
export {
  type FetchDeps,
  type FetchedPage,
  type FetchProgress,
  fetchSource,
  nextFromLinkHeader,
  type SleepFn,
  type SourceFetch,
  valueAtPath,
} from './fetch-source.js';
export { type Discovered, discoverLinks, type FollowPlan, planFollow } from './follow.js';
export {
  type HttpRequest,
  type HttpResponse,
  type HttpTransport,
  nodeHttpTransport,
} from './http.js';
export { type InvalidPayloadDeps, recordInvalidPayload } from './invalid.js';
export { holdingRoom, OriginGate, OriginWaitAbortedError } from './origin-gate.js';
export {
  type FinishedPack,
  PackWriter,
  type PackWriterOptions,
  worstCaseDeflatedBytes,
} from './pack.js';
export { type OriginRoom, runPool, runPoolByOrigin } from './pool.js';
export { isRetryableStatus, parseRetryAfter, retryDelayMs } from './retry.js';
export {
  ROBOTS_MAX_BYTES,
  RobotsCache,
  type RobotsDeps,
  type RobotsStore,
  robotsKey,
  robotsToken,
} from './robots.js';
export { type HandlerDeps, type HandlerOutcome, handleCollectorEvent, realSleep } from './run.js';
export {
  lazySecretStore,
  type ResolvedTask,
  resolveTask,
  SecretAccessDeniedError,
  SecretKeyMissingError,
  SecretNotFoundError,
  SecretReferenceError,
  SecretResolver,
  type SecretResolverOptions,
  type SecretStore,
  SecretUnavailableError,
  scrubSecrets,
} from './secrets.js';
export {
  type AddressDecision,
  checkAddress,
  embeddedIPv4,
  type LookupFn,
  type ResolvedAddress,
  resolveGuarded,
  systemLookup,
} from './ssrf.js';
export {
  type PartialStore,
  putJson,
  s3PartialStore,
  storePack,
  storeRawPage,
} from './store.js';
export { extensionFor, storePages } from './store-pages.js';
