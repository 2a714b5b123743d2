import {
  type BatchResult,
  batchFailureKey,
  batchResultKey,
  type CollectorPayload,
  type CollectorTask,
  type LambdaContext,
  type Log,
  PACK_KIND,
  PACK_VERSION,
  payloadSize,
  rawPackKey,
  redactUrlsIn,
  type TaskOutcome,
} from '@fanout/shared';
import { collectTask, type DownloadSummary } from './collect-task.js';
import { type InvokeContinuation, isTransientInvokeError } from './continuation.js';
import { ContinuationInvokeError } from './errors.js';
import type { FetchDeps } from './fetch-source.js';
import { PackWriter } from './pack.js';
import { runPool } from './pool.js';
import { withRedactedPayload } from './redact-payload.js';
import { bytesPerSecond } from './resume.js';
import { putJson, type StoreTarget, s3PartialStore, storePack } from './store.js';

export interface CollectorDeps extends FetchDeps, StoreTarget {
  readonly context: LambdaContext;
  readonly invokeContinuation: InvokeContinuation;
  /** How often the hard deadline is re-checked at most; real deadlines are timed exactly. */
  readonly deadlinePollMs?: number;
}

export interface BatchSummary {
  /**
   * Where the hop's record went: its pack (the result in the header) when any page was
   * packed, else `runs/<runId>/results/<batchId>-h<hop>.json`. Never both.
   */
  readonly recordKey: string;
  readonly result: BatchResult;
  /** Pages in the hop's pack (0: no pack was written). */
  readonly packEntries: number;
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

/**
 * Why a task left unfinished at the hop limit failed. A download says how far it got and
 * how fast, so "too slow for the hops" reads as that, not as a generic limit.
 */
export function hopLimitReason(
  hop: number,
  task: CollectorTask,
  download: DownloadSummary | undefined,
): string {
  const plain = `continuation hop limit reached after ${hop} hops`;
  const progress: DownloadSummary | undefined =
    download ??
    (task.resume
      ? {
          bytes: task.resume.bytes,
          downloadMs: task.resume.downloadMs,
          resumable: true,
          ...(task.resume.totalBytes !== undefined ? { totalBytes: task.resume.totalBytes } : {}),
        }
      : undefined);
  if (progress === undefined) return plain;
  const rate = bytesPerSecond(progress.bytes, progress.downloadMs);
  const of = progress.totalBytes !== undefined ? ` of ${progress.totalBytes}` : '';
  const left =
    progress.totalBytes !== undefined && rate > 0
      ? `; the rest needs about ${Math.ceil((progress.totalBytes - progress.bytes) / rate)} s more`
      : '';
  const how = progress.resumable
    ? `${progress.bytes}${of} bytes done in ${progress.downloadMs} ms`
    : `${progress.bytes}${of} bytes in the last hop's ${progress.downloadMs} ms, not resumable (no strong ETag or Last-Modified, an encoded body, or not spooled to /tmp), so every hop started over`;
  return `${plain}: download too slow to finish, ${how} (${rate} bytes/s)${left}`;
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
 * The task the next hop gets: with where its download resumes when its bytes were
 * stored, without a stale resume when this hop received (part of) a new body.
 */
function continuedTask(
  task: CollectorTask,
  download: DownloadSummary | undefined,
  resume: CollectorTask['resume'],
): CollectorTask {
  if (download === undefined && resume === undefined) return task;
  const { resume: _stale, ...rest } = task;
  return resume ? { ...rest, resume } : rest;
}

/**
 * Stores the hop's record, ONE object: the pack with the result in its header when any
 * page was packed, else the batch result alone.
 */
async function writeRecord(
  payload: CollectorPayload,
  result: BatchResult,
  pack: PackWriter,
  deps: StoreTarget & { readonly log: Log },
): Promise<string> {
  if (pack.entries === 0) {
    const key = batchResultKey(result.runId, result.batchId, result.hop);
    await putJson(deps, key, result);
    deps.log.info('batch result written', {
      key,
      outcomes: result.outcomes.length,
      continued: result.continued.length,
    });
    return key;
  }
  const finished = await pack.finish({
    kind: PACK_KIND,
    version: PACK_VERSION,
    runId: result.runId,
    batchId: result.batchId,
    hop: result.hop,
    scheduledAt: payload.scheduledAt,
    entries: pack.entries,
    result,
  });
  await storePack(deps, finished);
  deps.log.info('pack written', {
    key: finished.key,
    entries: finished.entries,
    bytes: finished.bytes,
    spooled: finished.spooled,
    outcomes: result.outcomes.length,
    continued: result.continued.length,
  });
  return finished.key;
}

/**
 * Hands the unfinished tasks to the next hop. A failed invoke is recorded as a replayable
 * `continuation-failed` BatchFailure; returns the error to throw when a retry may help.
 */
async function invokeNextHop(
  continuation: CollectorPayload,
  deps: CollectorDeps,
): Promise<{ failureKey?: string; transientError?: ContinuationInvokeError }> {
  const { settings, log, clock } = deps;
  const { runId, batchId, hop } = continuation;
  try {
    const size = payloadSize(continuation);
    if (size > settings.payloadLimitBytes) {
      throw new RangeError(
        `continuation payload is ${size} bytes, over the ${settings.payloadLimitBytes} byte limit`,
      );
    }
    await deps.invokeContinuation(continuation);
    log.info('continuation invoked', { nextHop: hop, tasks: continuation.tasks.length });
    return {};
  } catch (error) {
    const transient = !(error instanceof RangeError) && isTransientInvokeError(error);
    const failureKey = batchFailureKey(runId, batchId, hop);
    // Stored redacted: the payload holds source URLs and headers (credentials).
    const failure = withRedactedPayload({
      kind: 'continuation-failed',
      runId,
      batchId,
      hop,
      reason: redactUrlsIn(
        error instanceof Error ? `${error.name}: ${error.message}` : String(error),
      ),
      sourceIds: continuation.tasks.map((t) => t.source.id),
      payload: continuation,
      recordedAt: new Date(clock.now()).toISOString(),
    });
    log.error('continuation could not be invoked', {
      key: failureKey,
      transient,
      reason: failure.reason,
    });
    await putJson(deps, failureKey, failure);
    return {
      failureKey,
      ...(transient
        ? { transientError: new ContinuationInvokeError(runId, batchId, hop, error) }
        : {}),
    };
  }
}

/**
 * Runs one collector invocation: fetches the batch's tasks with bounded concurrency
 * inside the time budget, packs the changed pages, writes the hop's ONE record (its pack,
 * or its BatchResult when nothing was packed), then hands what it could not finish to a
 * continuation. The record goes first: a hop killed after handing work on has already
 * stored its outcomes. Throws only for faults a retry of the whole invocation can fix
 * (S3 writes, the pack's spool file, a throttled continuation invoke).
 */
export async function collectBatch(
  payload: CollectorPayload,
  deps: CollectorDeps,
): Promise<BatchSummary> {
  const pack = new PackWriter(
    rawPackKey({
      runId: payload.runId,
      scheduledAt: payload.scheduledAt,
      batchId: payload.batchId,
      hop: payload.hop,
    }),
    {
      tmpDir: deps.tmpDir,
      memoryBytes: deps.settings.packMemoryBytes,
      maxBytes: deps.settings.packMaxBytes,
    },
  );
  try {
    return await collectHop(payload, deps, pack);
  } finally {
    await pack.dispose();
  }
}

async function collectHop(
  payload: CollectorPayload,
  deps: CollectorDeps,
  pack: PackWriter,
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
  const downloads: (DownloadSummary | undefined)[] = [];
  // Only a download cut by the deadline uses it: a normal run makes no request to it.
  const taskDeps = { ...deps, partials: deps.partials ?? s3PartialStore(deps) };
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
        const result = await collectTask(payload, task, taskDeps, deadline.signal, pack);
        if (result.kind === 'aborted') {
          continued[index] = continuedTask(task, result.download, result.resume);
          downloads[index] = result.download;
        } else {
          outcomes[index] = result.outcome;
          bytesStored += result.bytesStored;
        }
      } catch (error) {
        // S3 (or the pack) is failing: starting more tasks would only fail the same way.
        stopStarting = true;
        throw error;
      }
    });
  } finally {
    stopWatching();
  }

  const done = outcomes.filter((o): o is TaskOutcome => o !== undefined);
  let unfinished = continued.filter((t): t is CollectorTask => t !== undefined);
  if (unfinished.length > 0 && hop >= settings.maxHops) {
    log.warn('continuation hop limit reached; recording tasks as failed', {
      hop,
      maxHops: settings.maxHops,
      tasks: unfinished.length,
    });
    continued.forEach((task, index) => {
      if (task === undefined) return;
      done.push(failedOutcome(task, hopLimitReason(hop, task, downloads[index]), clock.now()));
    });
    unfinished = [];
  }

  const result: BatchResult = {
    runId,
    batchId,
    hop,
    outcomes: done,
    continued: unfinished.map((t) => t.source.id),
    writtenAt: new Date(clock.now()).toISOString(),
  };
  const recordKey = await writeRecord(payload, result, pack, deps);

  let continuation: CollectorPayload | undefined;
  let continuationFailureKey: string | undefined;
  if (unfinished.length > 0) {
    const next: CollectorPayload = { ...payload, hop: hop + 1, tasks: unfinished };
    const invoked = await invokeNextHop(next, deps);
    if (invoked.transientError) throw invoked.transientError;
    continuationFailureKey = invoked.failureKey;
    if (continuationFailureKey === undefined) continuation = next;
  }
  return {
    recordKey,
    result,
    packEntries: pack.entries,
    ok: done.filter((o) => o.status === 'ok').length,
    unchanged: done.filter((o) => o.status === 'unchanged').length,
    failed: done.filter((o) => o.status === 'failed').length,
    bytesStored,
    continued: unfinished.length,
    ...(continuation ? { continuation } : {}),
    ...(continuationFailureKey ? { continuationFailureKey } : {}),
  };
}
