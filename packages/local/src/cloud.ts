import { appendFileSync, mkdirSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { type LocalS3, type LocalS3LogEntry, startLocalS3 } from '@fanout/local-s3';
import {
  FUNCTION_IDS,
  type FunctionId,
  type FunctionSpec,
  functionEnvironment,
  type ManualTrigger,
  runIdFromTime,
  type Topology,
  topology,
} from '@fanout/shared';
import { type Chaos, NO_CHAOS } from './chaos.js';
import {
  bundlePath,
  LOCAL_ACCOUNT,
  LOCAL_BUCKET,
  LOCAL_CREDENTIALS,
  LOCAL_REGION,
} from './config.js';
import { type LocalFunctionConfig, LocalLambda } from './lambda/index.js';
import { assertPortFree } from './ports.js';
import { scheduledEvent } from './schedule/index.js';
import { type LocalSecretsServer, startLocalSecrets } from './secrets/index.js';

export type FunctionOverrides = Partial<
  Pick<FunctionSpec, 'timeoutSeconds' | 'memoryMb' | 'reservedConcurrency'>
>;

export interface LocalCloudOptions {
  /** Data folder (S3 objects, dead letters, function logs). */
  readonly home: string;
  readonly bucket?: string;
  /** 0 or absent: a free port. */
  readonly s3Port?: number;
  readonly lambdaPort?: number;
  /**
   * The SSM + Secrets Manager endpoint. Absent: 3 above a fixed s3Port (4603 next to
   * 4600-4602, so the AWS CLI finds it where the docs say), else a free port.
   */
  readonly secretsPort?: number;
  /** The secrets the functions can read; `<home>/secrets.json` by default. */
  readonly secretsFile?: string;
  /** Per-function changes to the topology, e.g. a short collector timeout for a demo. */
  readonly functions?: Partial<Record<FunctionId, FunctionOverrides>>;
  /**
   * The schedule expression the cloud runs (`fanout start --schedule`): the manager is
   * told it (FANOUT_SCHEDULE), as the deployed one is told the stack's, so it finds the
   * previous run at the previous fire time. The topology's by default.
   */
  readonly schedule?: string;
  /** Extra settings per function (environment variables). */
  readonly settings?: Partial<Record<FunctionId, Record<string, string>>>;
  /** Async retry delays (1 and 2 minutes in AWS) are multiplied by this. */
  readonly retryDelayScale?: number;
  readonly chaos?: Chaos;
  readonly random?: () => number;
  /**
   * Parser workers running at once. In AWS each execution has its own CPU; here
   * all share this machine's cores, and the parser is CPU-bound, so more workers
   * than cores only add cold starts. Default: twice the cores, at most the
   * topology's reserved concurrency.
   */
  readonly parserWorkers?: number;
  /** Where the function bundles are; the built dist/ of each package by default. */
  readonly bundles?: Partial<Record<FunctionId, string>>;
}

/**
 * What a hop needs after its hard deadline, at least, on one busy machine: finish its
 * pack, PUT it to the local S3 server and invoke its continuation, with the server and
 * the endpoint sharing two cores with every other test. On such a machine the 640 ms
 * an 8% share of an 8 s timeout leaves was seen to be too short (hops killed at the
 * timeout after their deadline, in the e2e cycle test).
 */
const LOCAL_HARD_DEADLINE_FLOOR_MS = 1_500;
const LOCAL_SAFETY_MARGIN_FLOOR_MS = 2_000;

/**
 * The collector's time margins are sized for its deployed timeout (minutes). A
 * local override of a few seconds scales them down with it, so the margins stay
 * the same share of the invocation, but never below the floors above. (On a machine
 * loaded past even those, the hop is killed and retried instead of continued, which
 * loses nothing but time: the retry takes over from the record the hop stored.)
 */
function collectorMargins(override: FunctionOverrides | undefined): Record<string, string> {
  const timeoutMs = (override?.timeoutSeconds ?? 0) * 1000;
  if (!timeoutMs) return {};
  return {
    FANOUT_SAFETY_MARGIN_MS: String(
      Math.max(LOCAL_SAFETY_MARGIN_FLOOR_MS, Math.round(timeoutMs * 0.15)),
    ),
    FANOUT_HARD_DEADLINE_MS: String(
      Math.max(LOCAL_HARD_DEADLINE_FLOOR_MS, Math.round(timeoutMs * 0.08)),
    ),
  };
}

function defaultParserWorkers(): number {
  return Math.max(2, availableParallelism() * 2);
}

/** The topology with local overrides applied: the same data the Pulumi program reads. */
export function localTopology(
  overrides: LocalCloudOptions['functions'] = {},
  schedule?: string,
): Topology {
  const functions = { ...topology.functions };
  for (const id of FUNCTION_IDS) {
    const override = overrides[id];
    if (override) Object.assign(functions, { [id]: { ...topology.functions[id], ...override } });
  }
  return {
    ...topology,
    functions,
    ...(schedule !== undefined ? { schedule: { ...topology.schedule, expression: schedule } } : {}),
  };
}

function functionArn(name: string): string {
  return `arn:aws:lambda:${LOCAL_REGION}:${LOCAL_ACCOUNT}:function:${name}`;
}

/** The S3 server's failed requests, one JSON line each, beside the functions' logs. */
function s3Log(home: string): (entry: LocalS3LogEntry) => void {
  const file = join(home, 'logs', 's3.log');
  return (entry) => {
    mkdirSync(join(home, 'logs'), { recursive: true });
    appendFileSync(file, `${JSON.stringify({ time: new Date().toISOString(), ...entry })}\n`);
  };
}

/**
 * The whole pipeline on one machine: a real S3 server, a Lambda Invoke endpoint
 * running the deployed bundles, the S3 -> parser notification and the schedule's
 * target, all wired from the topology. Functions only see endpoint settings.
 */
/** Free ports probed for the Lambda endpoint before giving up (see LocalCloud.start). */
const FREE_PORT_ATTEMPTS = 5;

export class LocalCloud {
  private constructor(
    readonly topology: Topology,
    readonly bucket: string,
    readonly home: string,
    private readonly s3Server: LocalS3,
    readonly lambda: LocalLambda,
    readonly lambdaEndpoint: string,
    private readonly secretsServer: LocalSecretsServer,
  ) {}

  static async start(options: LocalCloudOptions): Promise<LocalCloud> {
    const topo = localTopology(options.functions, options.schedule);
    const bucket = options.bucket ?? LOCAL_BUCKET;
    const chaos = options.chaos ?? NO_CHAOS;
    await mkdir(options.home, { recursive: true });
    // The functions' environment names the Lambda endpoint, so its port is chosen before
    // the endpoint listens (see startLambda for a free port taken in between).
    if (options.lambdaPort) await assertPortFree(options.lambdaPort, '--lambda-port');
    if (options.s3Port) await assertPortFree(options.s3Port, '--s3-port');
    const secretsPort = options.secretsPort ?? (options.s3Port ? options.s3Port + 3 : 0);
    if (secretsPort) await assertPortFree(secretsPort, '--secrets-port');

    let lambda: LocalLambda | undefined;
    const s3Server = await startLocalS3({
      home: options.home,
      bucket,
      port: options.s3Port ?? 0,
      region: LOCAL_REGION,
      notification: topo.notification,
      deliver: async (event) => {
        if (!lambda) throw new Error('S3 notification before the Lambda endpoint started');
        await lambda.invokeAsync(topo.functions[topo.notification.function].name, event);
      },
      notificationTargetArn: functionArn(topo.functions[topo.notification.function].name),
      faults: { errorRate: chaos.s3Errors, duplicateNotificationRate: chaos.duplicates },
      log: s3Log(options.home),
      ...(options.random ? { random: options.random } : {}),
    });

    let secrets: LocalSecretsServer;
    try {
      secrets = await startLocalSecrets({
        file: options.secretsFile ?? join(options.home, 'secrets.json'),
        port: secretsPort,
      });
    } catch (error) {
      await s3Server.stop();
      throw error;
    }

    const names = {
      bucket,
      functions: {
        manager: topo.functions.manager.name,
        collector: topo.functions.collector.name,
        parser: topo.functions.parser.name,
      },
    };
    const baseEnv = {
      AWS_REGION: LOCAL_REGION,
      AWS_DEFAULT_REGION: LOCAL_REGION,
      AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
      AWS_ENDPOINT_URL_S3: s3Server.endpoint,
      // The collector resolves secret references here, with the same SDK calls as in AWS.
      AWS_ENDPOINT_URL_SSM: secrets.endpoint,
      AWS_ENDPOINT_URL_SECRETS_MANAGER: secrets.endpoint,
      TZ: 'UTC',
    };
    const functionsFor = (lambdaEndpoint: string): LocalFunctionConfig[] =>
      FUNCTION_IDS.map((id) => {
        const timing = id === 'collector' ? collectorMargins(options.functions?.collector) : {};
        const spec = topo.functions[id];
        return {
          name: spec.name,
          bundlePath: options.bundles?.[id] ?? bundlePath(id),
          memoryMb: spec.memoryMb,
          timeoutSeconds: spec.timeoutSeconds,
          reservedConcurrency:
            id === 'parser' && options.functions?.parser?.reservedConcurrency === undefined
              ? Math.min(spec.reservedConcurrency, options.parserWorkers ?? defaultParserWorkers())
              : spec.reservedConcurrency,
          maxRetryAttempts: spec.async.maxRetryAttempts,
          maxEventAgeSeconds: spec.async.maxEventAgeSeconds,
          ...(spec.onFailure === 'dead-letter-queue'
            ? {}
            : { onFailureFunction: topo.functions[spec.onFailure].name }),
          env: {
            ...baseEnv,
            AWS_ENDPOINT_URL_LAMBDA: lambdaEndpoint,
            AWS_LAMBDA_FUNCTION_NAME: spec.name,
            AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(spec.memoryMb),
            ...functionEnvironment(id, names, topo),
            ...timing,
            ...options.settings?.[id],
          },
        };
      });
    const startLambda = async (port: number): Promise<LocalLambda> => {
      const endpoint = new LocalLambda(functionsFor(`http://127.0.0.1:${port}`), {
        home: options.home,
        port,
        retryDelayScale: options.retryDelayScale ?? 0.01,
        asyncPayloadLimitBytes: topo.payloadLimitBytes,
        faults: {
          duplicateDeliveryRate: chaos.duplicates,
          forcedTimeoutRate: { [topo.functions.collector.name]: chaos.collectorTimeouts },
        },
        ...(options.random ? { random: options.random } : {}),
      });
      try {
        await endpoint.start();
      } catch (error) {
        await endpoint.stop();
        throw error;
      }
      return endpoint;
    };
    let lambdaPort = options.lambdaPort ?? 0;
    try {
      for (let attempt = 1; ; attempt += 1) {
        if (!options.lambdaPort) lambdaPort = await assertPortFree(0, '--lambda-port');
        try {
          lambda = await startLambda(lambdaPort);
          break;
        } catch (error) {
          // A free port found by the probe can be taken by another process before the
          // endpoint listens on it (busy machines, tests in parallel): probe again.
          const taken = (error as NodeJS.ErrnoException).code === 'EADDRINUSE';
          if (!taken || options.lambdaPort || attempt >= FREE_PORT_ATTEMPTS) throw error;
        }
      }
    } catch (error) {
      await s3Server.stop();
      await secrets.stop();
      throw error;
    }
    const lambdaEndpoint = `http://127.0.0.1:${lambdaPort}`;
    return new LocalCloud(topo, bucket, options.home, s3Server, lambda, lambdaEndpoint, secrets);
  }

  /** SSM and Secrets Manager (GetParameter(s), GetSecretValue) for the functions and the AWS CLI. */
  get secretsEndpoint(): string {
    return this.secretsServer.endpoint;
  }

  /** The file the secrets endpoint serves. */
  get secretsFile(): string {
    return this.secretsServer.file;
  }

  get s3Endpoint(): string {
    return this.s3Server.endpoint;
  }

  /** A client for the local bucket (straight to the server, bypassing fault injection). */
  get s3(): S3Client {
    return this.s3Server.client;
  }

  get deadLetterDir(): string {
    return join(this.home, 'dead-letters');
  }

  functionName(id: FunctionId): string {
    return this.topology.functions[id].name;
  }

  async putManifest(document: unknown): Promise<void> {
    await this.s3.send(
      new PutObjectCommand({
        Bucket: this.bucket,
        Key: this.topology.manifestKey,
        Body: JSON.stringify(document, null, 2),
        ContentType: 'application/json',
      }),
    );
  }

  /**
   * Starts a manual run at `time` (`fanout.manual`, as the AWS CLI or the console would
   * send it), named by its time to the second. Returns its run id.
   */
  async startManualRun(time: Date): Promise<string> {
    const runId = runIdFromTime(time);
    const event: ManualTrigger = { type: 'fanout.manual', runId, time: time.toISOString() };
    await this.lambda.invokeAsync(this.functionName(this.topology.schedule.target), event);
    return runId;
  }

  /** Fires the schedule's target once, as EventBridge would at `time`. Returns the event. */
  async fireSchedule(time: Date): Promise<ReturnType<typeof scheduledEvent>> {
    const event = scheduledEvent(time, {
      ruleName: `${this.functionName('manager')}-schedule`,
      region: LOCAL_REGION,
      account: LOCAL_ACCOUNT,
    });
    await this.lambda.invokeAsync(this.functionName(this.topology.schedule.target), event);
    return event;
  }

  /** Queued notifications, async events and running invocations. */
  busy(): number {
    const stats = this.lambda.stats();
    let pending = this.s3Server.pendingNotifications();
    for (const fn of Object.values(stats)) pending += fn.queued + fn.running;
    return pending;
  }

  /**
   * Resolves when nothing is left to do: no notification to deliver, no event
   * queued or waiting for a retry, no invocation running. Each part can create
   * work for the other (an object triggers the parser), so both are waited on
   * until neither has anything.
   */
  async settled(): Promise<void> {
    for (let quiet = 0; quiet < 2; ) {
      await this.s3Server.drained();
      await this.lambda.drained();
      quiet = this.busy() === 0 ? quiet + 1 : 0;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  s3Stats(): ReturnType<LocalS3['stats']> {
    return this.s3Server.stats();
  }

  async stop(): Promise<void> {
    await this.lambda.stop();
    await this.s3Server.stop();
    await this.secretsServer.stop();
  }
}
