import {
  ASYNC_INVOKE_PAYLOAD_LIMIT_BYTES,
  ASYNC_MAX_EVENT_AGE_SECONDS,
  type LambdaRuntime,
} from './limits.js';

/**
 * The one description of the deployed pipeline. The Pulumi program and the local
 * cloud both read it, so what runs on a laptop is what runs in AWS.
 */

export const PREFIXES = {
  /** The source manifest. */
  manifest: 'manifest/',
  /** Raw responses written by collectors. The only prefix that triggers the parser. */
  raw: 'raw/',
  /** Parsed records (gzip NDJSON), Hive-partitioned by source and date. */
  parsed: 'parsed/',
  /** Raw objects that could not be parsed, with an error report beside each. */
  quarantine: 'quarantine/',
  /** Run manifests, batch results, parse outcomes and failure records. */
  runs: 'runs/',
  /** Per-source state (validators, hashes, measured durations) kept between runs. */
  state: 'state/',
} as const;

export type Prefix = (typeof PREFIXES)[keyof typeof PREFIXES];

export type FunctionId = 'manager' | 'collector' | 'parser';

export interface AsyncInvokeSettings {
  /** Retries Lambda makes after a function error (0-2). */
  readonly maxRetryAttempts: number;
  /** How long Lambda keeps retrying an event before it goes to the failure destination. */
  readonly maxEventAgeSeconds: number;
}

export interface FunctionSpec {
  readonly id: FunctionId;
  /** Base function name; deployments append a stack suffix. */
  readonly name: string;
  readonly description: string;
  /** Package whose esbuild output (`dist/`) is the deployed code. */
  readonly packageDir: string;
  readonly handler: string;
  readonly runtime: LambdaRuntime;
  readonly architecture: 'arm64' | 'x86_64';
  readonly memoryMb: number;
  readonly timeoutSeconds: number;
  /** Upper bound on concurrent executions (Lambda reserved concurrency). */
  readonly reservedConcurrency: number;
  /** Size of /tmp in MB (512-10240; 512 is free, more is billed per GB-s). */
  readonly ephemeralStorageMb: number;
  readonly async: AsyncInvokeSettings;
  /** Prefixes the function may read (GetObject / ListBucket). */
  readonly reads: readonly Prefix[];
  /** Prefixes the function may write (PutObject). */
  readonly writes: readonly Prefix[];
  /** Functions this function may invoke. */
  readonly invokes: readonly FunctionId[];
  /**
   * Where Lambda sends an async event it gives up on: a function (which gets Lambda's
   * failure record as its event), else the dead-letter queue.
   */
  readonly onFailure: FunctionId | 'dead-letter-queue';
}

export interface NotificationRule {
  readonly function: FunctionId;
  readonly events: readonly string[];
  readonly prefix: string;
  readonly suffix: string;
}

export interface Topology {
  readonly manifestKey: string;
  readonly schedule: { readonly expression: string; readonly target: FunctionId };
  /** Byte limit for one async invocation payload (AWS: 1 MB). */
  readonly payloadLimitBytes: number;
  /** Fetches one collector invocation runs at once (I/O-bound work shares one billed invocation). */
  readonly collectorConcurrency: number;
  readonly functions: { readonly [K in FunctionId]: FunctionSpec & { readonly id: K } };
  readonly notification: NotificationRule;
}

export const topology: Topology = {
  manifestKey: `${PREFIXES.manifest}sources.json`,
  schedule: { expression: 'rate(10 minutes)', target: 'manager' },
  payloadLimitBytes: ASYNC_INVOKE_PAYLOAD_LIMIT_BYTES,
  collectorConcurrency: 16,
  functions: {
    manager: {
      id: 'manager',
      name: 'fanout-manager',
      description: 'Plans a run and fans out collector invocations',
      packageDir: 'packages/manager',
      handler: 'index.handler',
      runtime: 'nodejs22.x',
      architecture: 'arm64',
      memoryMb: 256,
      timeoutSeconds: 300,
      // Runs of one schedule never overlap much; a few slots leave room for the
      // two-level fan-out, where a manager invokes itself on parts of a run.
      reservedConcurrency: 10,
      ephemeralStorageMb: 512,
      // A failed plan is retried once; by the next scheduled run it is stale.
      async: { maxRetryAttempts: 1, maxEventAgeSeconds: 900 },
      // raw/: the header line of each pending run's packs holds its hops' outcomes.
      // state/: the off-schedule log (read every run, written by a manual run), and the
      // snapshot of earlier versions, read once when no run manifest carries state yet.
      reads: [PREFIXES.manifest, PREFIXES.state, PREFIXES.runs, PREFIXES.raw],
      writes: [PREFIXES.runs, PREFIXES.state],
      invokes: ['collector', 'manager'],
      onFailure: 'dead-letter-queue',
    },
    collector: {
      id: 'collector',
      name: 'fanout-collector',
      description: 'Fetches a batch of sources and streams raw responses to S3',
      packageDir: 'packages/collector',
      handler: 'index.handler',
      runtime: 'nodejs22.x',
      architecture: 'arm64',
      memoryMb: 256,
      timeoutSeconds: 300,
      reservedConcurrency: 20,
      // Bodies past the in-memory buffer spool to /tmp, up to collectorConcurrency at once.
      ephemeralStorageMb: 1_024,
      async: { maxRetryAttempts: 2, maxEventAgeSeconds: 3_600 },
      // Validators and hashes arrive in the payload; the collector reads back only the
      // partial download it stored at a deadline (runs/<run>/partial/), to resume it, and
      // the header of a hop's pack another attempt stored first (raw/packs/).
      reads: [PREFIXES.runs, PREFIXES.raw],
      writes: [PREFIXES.raw, PREFIXES.runs],
      invokes: ['collector'],
      // The manager redrives a hop Lambda gave up on (at most MAX_REDRIVES times), then
      // records it as failed: a run finishes without a manual step, and nothing loops.
      onFailure: 'manager',
    },
    parser: {
      id: 'parser',
      name: 'fanout-parser',
      description: 'Parses raw objects into gzip NDJSON records',
      packageDir: 'packages/parser',
      handler: 'index.handler',
      runtime: 'nodejs22.x',
      architecture: 'arm64',
      memoryMb: 256,
      timeoutSeconds: 300,
      reservedConcurrency: 20,
      ephemeralStorageMb: 512,
      async: { maxRetryAttempts: 2, maxEventAgeSeconds: ASYNC_MAX_EVENT_AGE_SECONDS },
      reads: [PREFIXES.raw],
      writes: [PREFIXES.parsed, PREFIXES.quarantine, PREFIXES.runs],
      invokes: [],
      onFailure: 'dead-letter-queue',
    },
  },
  notification: {
    function: 'parser',
    events: ['s3:ObjectCreated:*'],
    prefix: PREFIXES.raw,
    suffix: '',
  },
};

export const FUNCTION_IDS: readonly FunctionId[] = ['manager', 'collector', 'parser'];

/** Names of the environment variables the functions read (see each package's config.ts). */
export const ENV = {
  bucket: 'FANOUT_BUCKET',
  manifestKey: 'FANOUT_MANIFEST_KEY',
  managerFunction: 'FANOUT_MANAGER_FUNCTION',
  collectorFunction: 'FANOUT_COLLECTOR_FUNCTION',
  payloadLimitBytes: 'FANOUT_PAYLOAD_LIMIT_BYTES',
  collectorTimeoutMs: 'FANOUT_COLLECTOR_TIMEOUT_MS',
  collectorConcurrency: 'FANOUT_COLLECTOR_CONCURRENCY',
  collectorMaxParallel: 'FANOUT_COLLECTOR_MAX_PARALLEL',
  /** The stack's schedule expression: the manager finds the previous run's id from it. */
  schedule: 'FANOUT_SCHEDULE',
  serviceName: 'POWERTOOLS_SERVICE_NAME',
  metricsNamespace: 'POWERTOOLS_METRICS_NAMESPACE',
  logLevel: 'POWERTOOLS_LOG_LEVEL',
} as const;

export interface DeployedNames {
  readonly bucket: string;
  readonly functions: { readonly [K in FunctionId]: string };
}

/**
 * The environment each function gets, from the topology and the names of the
 * deployed resources. Pulumi and the local cloud both build it here.
 */
export function functionEnvironment(
  id: FunctionId,
  names: DeployedNames,
  topo: Topology = topology,
): Record<string, string> {
  const collector = topo.functions.collector;
  const common: Record<string, string> = {
    [ENV.bucket]: names.bucket,
    [ENV.serviceName]: topo.functions[id].name,
    [ENV.metricsNamespace]: 'Fanout',
    NODE_OPTIONS: '--enable-source-maps',
  };
  switch (id) {
    case 'manager':
      return {
        ...common,
        [ENV.manifestKey]: topo.manifestKey,
        [ENV.managerFunction]: names.functions.manager,
        [ENV.collectorFunction]: names.functions.collector,
        [ENV.payloadLimitBytes]: String(topo.payloadLimitBytes),
        [ENV.collectorTimeoutMs]: String(collector.timeoutSeconds * 1000),
        [ENV.collectorMaxParallel]: String(collector.reservedConcurrency),
        [ENV.collectorConcurrency]: String(topo.collectorConcurrency),
        [ENV.schedule]: topo.schedule.expression,
      };
    case 'collector':
      return {
        ...common,
        [ENV.collectorFunction]: names.functions.collector,
        [ENV.payloadLimitBytes]: String(topo.payloadLimitBytes),
        [ENV.collectorConcurrency]: String(topo.collectorConcurrency),
      };
    case 'parser':
      return common;
  }
}

/** True when `a` and `b` overlap as S3 prefixes (one is a prefix of the other). */
export function prefixesOverlap(a: string, b: string): boolean {
  return a.startsWith(b) || b.startsWith(a);
}

/** Functions the notification can start, directly or through their own invocations. */
export function functionsReachableFromNotification(topo: Topology = topology): FunctionId[] {
  const seen = new Set<FunctionId>();
  const pending: FunctionId[] = [topo.notification.function];
  for (let id = pending.pop(); id !== undefined; id = pending.pop()) {
    if (seen.has(id)) continue;
    seen.add(id);
    pending.push(...topo.functions[id].invokes);
  }
  return [...seen];
}

/**
 * The invariant that makes an S3 -> Lambda loop impossible: nothing the
 * notification can start writes under the prefix that triggers it. Returns a
 * description of each offending write (empty when the topology is safe).
 */
export function recursiveTriggerRisks(topo: Topology = topology): string[] {
  return functionsReachableFromNotification(topo).flatMap((id) =>
    topo.functions[id].writes
      .filter((written) => prefixesOverlap(written, topo.notification.prefix))
      .map(
        (written) =>
          `${id} is started by the ${topo.notification.prefix} notification and writes ${written}`,
      ),
  );
}
