import { InvokeCommand, type InvokeCommandOutput } from '@aws-sdk/client-lambda';
import {
  type BatchFailure,
  batchFailureKey,
  type Clock,
  type CollectorPayload,
  type Log,
  payloadSize,
} from '@fanout/shared';
import type { InvocationType } from './config.js';
import { DispatchError } from './errors.js';
import { type BucketRef, putJson } from './storage.js';

/** What the manager needs of a Lambda client; `LambdaClient` satisfies it, and so does a test fake. */
export interface LambdaInvoker {
  send(command: InvokeCommand): Promise<InvokeCommandOutput>;
}

export interface RetryPolicy {
  readonly maxAttempts: number;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
}

export interface DispatchDeps {
  readonly lambda: LambdaInvoker;
  readonly store: BucketRef;
  readonly log: Log;
  readonly clock: Clock;
  readonly sleep: (ms: number) => Promise<void>;
  /** In [0, 1); injected so backoff is testable. */
  readonly random: () => number;
}

const RETRYABLE_ERROR_NAMES = new Set([
  'TooManyRequestsException',
  'ServiceException',
  'EC2ThrottledException',
  'ResourceNotReadyException',
  // "An update is in progress for resource": the function is being deployed.
  'ResourceConflictException',
  'TimeoutError',
  'RequestTimeout',
]);

const NETWORK_ERROR_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_SOCKET',
]);

/** Throttling, Lambda's 5xx and network faults: a later attempt may succeed. */
export function isRetryableInvokeError(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const e = error as {
    name?: string;
    code?: string;
    $metadata?: { httpStatusCode?: number };
    cause?: unknown;
  };
  if (e.name !== undefined && RETRYABLE_ERROR_NAMES.has(e.name)) return true;
  const status = e.$metadata?.httpStatusCode;
  if (status !== undefined && (status === 429 || status >= 500)) return true;
  if (e.code !== undefined && NETWORK_ERROR_CODES.has(e.code)) return true;
  return e.cause !== undefined && e.cause !== error && isRetryableInvokeError(e.cause);
}

/**
 * Exponential backoff with jitter: the ceiling doubles per attempt up to the cap;
 * the wait is between half the ceiling and the ceiling, so concurrent retries
 * spread out yet never hammer at once.
 */
export function backoffDelayMs(attempt: number, policy: RetryPolicy, random: () => number): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}

function describe(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return String(error);
}

export type InvokeResult =
  | { ok: true; attempts: number; statusCode?: number }
  | { ok: false; attempts: number; reason: string };

/** Invokes a function, retrying what a retry can fix. Never throws. */
export async function invokeWithRetry(
  functionName: string,
  invocationType: InvocationType,
  payload: unknown,
  policy: RetryPolicy,
  deps: Pick<DispatchDeps, 'lambda' | 'log' | 'sleep' | 'random'>,
  logKeys: Record<string, unknown>,
): Promise<InvokeResult> {
  const body = Buffer.from(JSON.stringify(payload), 'utf8');
  for (let attempt = 1; ; attempt += 1) {
    try {
      const out = await deps.lambda.send(
        new InvokeCommand({
          FunctionName: functionName,
          InvocationType: invocationType,
          Payload: body,
        }),
      );
      if (out.FunctionError) {
        const detail = out.Payload ? Buffer.from(out.Payload).toString('utf8').slice(0, 500) : '';
        return {
          ok: false,
          attempts: attempt,
          reason: `${functionName} returned FunctionError ${out.FunctionError}: ${detail}`,
        };
      }
      return {
        ok: true,
        attempts: attempt,
        ...(out.StatusCode ? { statusCode: out.StatusCode } : {}),
      };
    } catch (error) {
      const retryable = isRetryableInvokeError(error);
      if (!retryable || attempt >= policy.maxAttempts) {
        return {
          ok: false,
          attempts: attempt,
          reason: `${describe(error)}${retryable ? '' : ' (not retryable)'}`,
        };
      }
      const delayMs = backoffDelayMs(attempt, policy, deps.random);
      deps.log.warn('invoke failed; retrying', {
        ...logKeys,
        functionName,
        attempt,
        delayMs,
        error: describe(error),
      });
      await deps.sleep(delayMs);
    }
  }
}

/** A batch ready to hand to a collector; `missing` are planned sources that cannot be sent. */
export interface PreparedBatch {
  readonly batchId: string;
  readonly payload: CollectorPayload | undefined;
  readonly missing: readonly { sourceId: string; reason: string }[];
}

export interface DispatchSettings {
  readonly collectorFunction: string;
  readonly invocationType: InvocationType;
  readonly concurrency: number;
  readonly retry: RetryPolicy;
  readonly payloadLimitBytes: number;
}

export interface DispatchReport {
  readonly dispatched: string[];
  readonly failures: BatchFailure[];
}

/** Runs `work` over `items` with at most `limit` in flight. */
export async function forEachBounded<T>(
  items: readonly T[],
  limit: number,
  work: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let i = next++; i < items.length; i = next++) {
      const item = items[i];
      if (item !== undefined) await work(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/**
 * Hands each batch to a collector. A batch that cannot be dispatched is recorded
 * as a `dispatch-failed` BatchFailure holding its full payload (replayable), never
 * dropped. Throws only when that record cannot be written (S3 fault), so the
 * event is retried and the run continues from its manifest.
 */
export async function dispatchBatches(
  runId: string,
  batches: readonly PreparedBatch[],
  settings: DispatchSettings,
  deps: DispatchDeps,
): Promise<DispatchReport> {
  const dispatched: string[] = [];
  const failures: BatchFailure[] = [];
  const record = async (batch: PreparedBatch, reason: string, sourceIds: string[]) => {
    const failure: BatchFailure = {
      kind: 'dispatch-failed',
      runId,
      batchId: batch.batchId,
      hop: 0,
      reason,
      sourceIds,
      payload: batch.payload ?? null,
      recordedAt: new Date(deps.clock.now()).toISOString(),
    };
    await putJson(deps.store, batchFailureKey(runId, batch.batchId, 0), failure);
    failures.push(failure);
  };

  await forEachBounded(batches, settings.concurrency, async (batch) => {
    const logKeys = { runId, batchId: batch.batchId };
    const missingIds = batch.missing.map((m) => m.sourceId);
    const missingReason = batch.missing.map((m) => `${m.sourceId}: ${m.reason}`).join('; ');
    if (!batch.payload) {
      deps.log.error('batch has no source that can be sent', { ...logKeys, reason: missingReason });
      await record(batch, missingReason, missingIds);
      return;
    }
    const payloadIds = batch.payload.tasks.map((task) => task.source.id);
    const bytes = payloadSize(batch.payload);
    const result =
      bytes > settings.payloadLimitBytes
        ? {
            ok: false as const,
            attempts: 0,
            reason: `payload is ${bytes} bytes, over the limit of ${settings.payloadLimitBytes}`,
          }
        : await invokeWithRetry(
            settings.collectorFunction,
            settings.invocationType,
            batch.payload,
            settings.retry,
            deps,
            logKeys,
          );
    if (!result.ok) {
      const error = new DispatchError(runId, batch.batchId, result.attempts, result.reason);
      deps.log.error('batch not dispatched; recorded for replay', {
        ...logKeys,
        attempts: result.attempts,
        error: error.message,
      });
      const reason = missingReason ? `${error.message}; also ${missingReason}` : error.message;
      await record(batch, reason, [...payloadIds, ...missingIds]);
      return;
    }
    if (batch.missing.length > 0) {
      deps.log.warn('batch dispatched without sources that can no longer be sent', {
        ...logKeys,
        reason: missingReason,
      });
      await record(batch, missingReason, missingIds);
    }
    deps.log.info('batch dispatched', {
      ...logKeys,
      tasks: payloadIds.length,
      bytes,
      attempts: result.attempts,
    });
    dispatched.push(batch.batchId);
  });
  return { dispatched: dispatched.sort(), failures };
}
