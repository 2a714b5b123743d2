import { readFile } from 'node:fs/promises';
import { setTimeout as sleepMs } from 'node:timers/promises';
import { InvokeCommand, type InvokeCommandOutput, LambdaClient } from '@aws-sdk/client-lambda';
import { S3Client } from '@aws-sdk/client-s3';
import {
  handleManagerEvent,
  type LambdaInvoker,
  loadConfig,
  type ManagerDeps,
  type RunSummary,
  readRunManifest,
  startRun,
} from '@fanout/manager';
import { type DispatchPartEvent, runIdFromTime, systemClock } from '@fanout/shared';
import { waitForRelease } from '../child.js';
import { silentLog } from '../common.js';

const TIME = new Date('2026-06-01T00:00:00Z');

export interface DispatchWork {
  readonly tasks: number;
  readonly invocations: number;
  readonly failed: number;
  readonly runMs: number;
}

/** A dispatch part's work, with its wall-clock window so parts in other processes add up. */
export interface PartWork extends DispatchWork {
  /** Epoch milliseconds. */
  readonly startedAt: number;
  readonly endedAt: number;
  /** S3 requests the part made (run manifest, source manifest, a record check per batch). */
  readonly s3Requests: number;
}

const SCHEDULED = {
  kind: 'schedule',
  runId: runIdFromTime(TIME),
  scheduledAt: TIME.toISOString(),
  via: 'rule',
} as const;

/**
 * The manager's deps as the handler builds them, with the settings in `env`. Without `s3`, a
 * client built from this process's environment (endpoints, region), closed by `close()`.
 */
function managerDeps(
  env: Readonly<Record<string, string | undefined>>,
  lambda: LambdaInvoker,
  s3?: S3Client,
): ManagerDeps & { close(): void } {
  const config = loadConfig(env);
  const client = s3 ?? new S3Client({ forcePathStyle: true });
  return {
    config,
    store: { s3: client, bucket: config.bucket },
    lambda,
    log: silentLog,
    clock: systemClock,
    sleep: (ms) => sleepMs(ms),
    random: Math.random,
    close: () => {
      if (!s3) client.destroy();
    },
  };
}

function workOf(summary: RunSummary, runMs: number): DispatchWork {
  return {
    tasks: summary.tasks,
    invocations: summary.dispatched,
    failed: summary.failed,
    runMs,
  };
}

/**
 * The manager core as the handler runs it, in its own process: `startRun` with the settings
 * in the environment (bucket, collector function, batch sizes; endpoints are read by the SDK).
 */
export async function managerRun(): Promise<DispatchWork> {
  // As the handler builds it: one attempt per call, the manager owns retries.
  const lambda = new LambdaClient({ maxAttempts: 1 });
  const deps = managerDeps(process.env, lambda);
  const started = performance.now();
  const summary = await startRun(SCHEDULED, { requestId: 'bench-dispatch' }, deps);
  const runMs = performance.now() - started;
  deps.close();
  lambda.destroy();
  return workOf(summary, runMs);
}

/** Answers every Invoke as Lambda accepts an async event, without sending anything. */
const acceptEverything: LambdaInvoker = {
  send: async () => ({ StatusCode: 202, $metadata: {} }) as InvokeCommandOutput,
};

/**
 * Plans the benchmark run as the manager does (run manifest written, state read) without
 * dispatching it: its Invoke calls are answered here. Returns the batch ids of the plan, in order.
 */
export async function planOnly(
  env: Readonly<Record<string, string | undefined>>,
  s3: S3Client,
): Promise<{ runId: string; batchIds: string[] }> {
  const deps = managerDeps(env, acceptEverything, s3);
  try {
    await startRun(SCHEDULED, { requestId: 'bench-plan' }, deps);
    const { manifest, problem } = await readRunManifest(deps.store, SCHEDULED.runId);
    if (!manifest) throw new Error(`the planned run has no run manifest: ${problem}`);
    return { runId: manifest.runId, batchIds: manifest.batches.map((batch) => batch.batchId) };
  } finally {
    deps.close();
  }
}

/**
 * One dispatch part in its own process, as a copy of the manager handles the event another
 * manager sent it (`handleManagerEvent`: read the run manifest, skip batches with a record,
 * build the payloads, invoke). Set up first, then measured from its release (see
 * `runNodesTogether`).
 */
export async function partRun(eventFile: string): Promise<PartWork> {
  const event = JSON.parse(await readFile(eventFile, 'utf8')) as DispatchPartEvent;
  const lambda = new LambdaClient({ maxAttempts: 1 });
  const deps = managerDeps(process.env, lambda);
  let s3Requests = 0;
  deps.store.s3.middlewareStack.add(
    (next) => (args) => {
      s3Requests += 1;
      return next(args);
    },
    { step: 'initialize', name: 'benchCountRequests' },
  );
  await waitForRelease();
  const now = () => performance.timeOrigin + performance.now();
  const startedAt = now();
  const result = await handleManagerEvent(
    event,
    { awsRequestId: `bench-part-${event.part}` },
    deps,
  );
  const endedAt = now();
  deps.close();
  lambda.destroy();
  if (result.outcome !== 'part') {
    throw new Error(`dispatch part ${event.part}: outcome ${result.outcome}`);
  }
  return { ...workOf(result, endedAt - startedAt), startedAt, endedAt, s3Requests };
}

/**
 * The floor of dispatch: `count` bare `Invoke` (Event) calls of `functionName`, `concurrency`
 * at a time, with a payload of `payloadBytes`, from a LambdaClient built as the manager builds
 * it. Nothing else: no plan, no S3, no retries.
 */
export async function invokeLoop(
  functionName: string,
  count: number,
  concurrency: number,
  payloadBytes: number,
): Promise<DispatchWork> {
  const lambda = new LambdaClient({ maxAttempts: 1 });
  let next = 0;
  let failed = 0;
  const started = performance.now();
  const worker = async () => {
    for (let i = next++; i < count; i = next++) {
      const payload = JSON.stringify({ batchId: `floor-${i}`, pad: 'x'.repeat(payloadBytes) });
      try {
        await lambda.send(
          new InvokeCommand({
            FunctionName: functionName,
            InvocationType: 'Event',
            Payload: Buffer.from(payload),
          }),
        );
      } catch {
        failed += 1;
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const runMs = performance.now() - started;
  lambda.destroy();
  return { tasks: count, invocations: count - failed, failed, runMs };
}
