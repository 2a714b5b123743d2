import {
  type BatchFailure,
  type BatchResult,
  batchFailureKey,
  batchResultKey,
  type CollectorPayload,
  type CollectorTask,
  type LambdaContext,
  payloadSize,
  type TaskOutcome,
} from '@fanout/shared';
import { collectTask } from './collect-task.js';
import { type InvokeContinuation, isTransientInvokeError } from './continuation.js';
import { ContinuationInvokeError } from './errors.js';
import type { FetchDeps } from './fetch-source.js';
import { runPool } from './pool.js';
import { putJson, type StoreTarget } from './store.js';

export interface CollectorDeps extends FetchDeps, StoreTarget {
  readonly context: LambdaContext;
  readonly invokeContinuation: InvokeContinuation;
  /** How often the hard deadline is re-checked at most; real deadlines are timed exactly. */
  readonly deadlinePollMs?: number;
}

export interface BatchSummary {
  readonly resultKey: string;
  readonly result: BatchResult;
  readonly ok: number;
  readonly unchanged: number;
  readonly failed: number;
  readonly bytesStored: number;
  /** Tasks handed to the next hop. */
  readonly continued: number;
  /** The payload of the next hop, when one was invoked. */
  readonly continuation?: CollectorPayload;
  /** Where a continuation that could not be invoked was recorded. */
  readonly continuationFailureKey?: string;
}

const DEFAULT_DEADLINE_POLL_MS = 1_000;

/** Calls `onDeadline` once the remaining time falls to `hardDeadlineMs`. Returns a stop function. */
function watchDeadline(
  context: LambdaContext,
  hardDeadlineMs: number,
  pollMs: number,
  onDeadline: () => void,
): () => void {
  let timer: NodeJS.Timeout | undefined;
  const check = () => {
    const left = context.getRemainingTimeInMillis() - hardDeadlineMs;
    if (left <= 0) {
      onDeadline();
      return;
    }
    timer = setTimeout(check, Math.min(pollMs, left));
  };
  check();
  return () => clearTimeout(timer);
}

function failedOutcome(task: CollectorTask, reason: string, now: number): TaskOutcome {
  return {
    status: 'failed',
    sourceId: task.source.id,
    attempts: 0,
    durationMs: 0,
    reason,
    finishedAt: new Date(now).toISOString(),
  };
}

/**
 * Runs one collector invocation: fetches the batch's tasks with bounded
 * concurrency inside the time budget, hands what it could not finish to a
 * continuation, and writes one BatchResult. Throws only for faults a retry of
 * the whole invocation can fix (S3 writes, a throttled continuation invoke).
 */
export async function collectBatch(
  payload: CollectorPayload,
  deps: CollectorDeps,
): Promise<BatchSummary> {
  const { settings, context, log, clock } = deps;
  const { runId, batchId, hop } = payload;
  const deadline = new AbortController();
  const stopWatching = watchDeadline(
    context,
    settings.hardDeadlineMs,
    deps.deadlinePollMs ?? DEFAULT_DEADLINE_POLL_MS,
    () => {
      log.warn('hard deadline reached; aborting in-flight fetches', {
        remainingMs: context.getRemainingTimeInMillis(),
      });
      deadline.abort();
    },
  );

  const outcomes: (TaskOutcome | undefined)[] = [];
  const continued: (CollectorTask | undefined)[] = [];
  let bytesStored = 0;
  let stopStarting = false;
  try {
    await runPool(payload.tasks, settings.concurrency, async (task, index) => {
      if (stopStarting || deadline.signal.aborted) {
        continued[index] = task;
        return;
      }
      const remainingMs = context.getRemainingTimeInMillis();
      if (remainingMs < task.estimateMs + settings.safetyMarginMs) {
        log.info('not enough time left for the next task; continuing later', {
          sourceId: task.source.id,
          remainingMs,
          estimateMs: task.estimateMs,
          safetyMarginMs: settings.safetyMarginMs,
        });
        stopStarting = true;
        continued[index] = task;
        return;
      }
      try {
        const result = await collectTask(payload, task, deps, deadline.signal);
        if (result.kind === 'aborted') {
          continued[index] = task;
        } else {
          outcomes[index] = result.outcome;
          bytesStored += result.bytesStored;
        }
      } catch (error) {
        // S3 is failing: starting more tasks would only fail the same way.
        stopStarting = true;
        throw error;
      }
    });
  } finally {
    stopWatching();
  }

  const done = outcomes.filter((o): o is TaskOutcome => o !== undefined);
  let unfinished = continued.filter((t): t is CollectorTask => t !== undefined);
  let continuation: CollectorPayload | undefined;
  let continuationFailureKey: string | undefined;
  let transientFailure: ContinuationInvokeError | undefined;
  if (unfinished.length > 0 && hop >= settings.maxHops) {
    const reason = `continuation hop limit reached after ${hop} hops`;
    log.warn('continuation hop limit reached; recording tasks as failed', {
      hop,
      maxHops: settings.maxHops,
      tasks: unfinished.length,
    });
    for (const task of unfinished) done.push(failedOutcome(task, reason, clock.now()));
    unfinished = [];
  } else if (unfinished.length > 0) {
    continuation = { ...payload, hop: hop + 1, tasks: unfinished };
    const sourceIds = unfinished.map((t) => t.source.id);
    try {
      const size = payloadSize(continuation);
      if (size > settings.payloadLimitBytes) {
        throw new RangeError(
          `continuation payload is ${size} bytes, over the ${settings.payloadLimitBytes} byte limit`,
        );
      }
      await deps.invokeContinuation(continuation);
      log.info('continuation invoked', { nextHop: hop + 1, tasks: unfinished.length });
    } catch (error) {
      const transient = !(error instanceof RangeError) && isTransientInvokeError(error);
      continuationFailureKey = batchFailureKey(runId, batchId, hop + 1);
      const failure: BatchFailure = {
        kind: 'continuation-failed',
        runId,
        batchId,
        hop: hop + 1,
        reason: error instanceof Error ? `${error.name}: ${error.message}` : String(error),
        sourceIds,
        payload: continuation,
        recordedAt: new Date(clock.now()).toISOString(),
      };
      log.error('continuation could not be invoked', {
        key: continuationFailureKey,
        transient,
        reason: failure.reason,
      });
      await putJson(deps, continuationFailureKey, failure);
      if (transient) transientFailure = new ContinuationInvokeError(runId, batchId, hop + 1, error);
      continuation = undefined;
    }
  }

  const result: BatchResult = {
    runId,
    batchId,
    hop,
    outcomes: done,
    continued: unfinished.map((t) => t.source.id),
    writtenAt: new Date(clock.now()).toISOString(),
  };
  const resultKey = batchResultKey(runId, batchId, hop);
  await putJson(deps, resultKey, result);
  log.info('batch result written', {
    key: resultKey,
    outcomes: done.length,
    continued: unfinished.length,
  });
  if (transientFailure) throw transientFailure;
  return {
    resultKey,
    result,
    ok: done.filter((o) => o.status === 'ok').length,
    unchanged: done.filter((o) => o.status === 'unchanged').length,
    failed: done.filter((o) => o.status === 'failed').length,
    bytesStored,
    continued: unfinished.length,
    ...(continuation ? { continuation } : {}),
    ...(continuationFailureKey ? { continuationFailureKey } : {}),
  };
}
