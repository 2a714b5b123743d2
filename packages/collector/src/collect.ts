import {
  type BatchResult,
  batchFailureKey,
  type CollectorPayload,
  type CollectorTask,
  type LambdaContext,
  type OriginAllowances,
  originOf,
  PACK_HEADER_MAX_BYTES,
  PACK_KIND,
  PACK_VERSION,
  type PackHeader,
  payloadSize,
  rawPackKey,
  redactUrlsIn,
  type TaskOutcome,
  tasksOfFollowed,
  withRedactedPayload,
} from '@fanout/shared';
import {
  collectTask,
  type DownloadSummary,
  hopPartialPrefix,
  partialKey,
  removePartial,
  type TaskResult,
} from './collect-task.js';
import { type InvokeContinuation, isTransientInvokeError } from './continuation.js';
import { ContinuationInvokeError, StoreError } from './errors.js';
import type { FetchDeps } from './fetch-source.js';
import { type Discovered, type FollowPlan, planFollow } from './follow.js';
import { OriginGate } from './origin-gate.js';
import { PackWriter } from './pack.js';
import { runPoolByOrigin } from './pool.js';
import { bytesPerSecond } from './resume.js';
import { RobotsCache } from './robots.js';
import {
  putJson,
  readStoredPackHeader,
  type StoreTarget,
  s3PartialStore,
  s3RobotsStore,
  storePack,
} from './store.js';

export interface CollectorDeps extends FetchDeps, StoreTarget {
  readonly context: LambdaContext;
  readonly invokeContinuation: InvokeContinuation;
  /** How often the hard deadline is re-checked at most; real deadlines are timed exactly. */
  readonly deadlinePollMs?: number;
}

export interface BatchSummary {
  /** The hop's record: its pack, the result in the header. */
  readonly recordKey: string;
  /**
   * Who stored the record: this invocation, an earlier attempt of it (or of the event a
   * redrive re-sent), or another delivery of the same event (a duplicate).
   */
  readonly recordedBy: 'this-invocation' | 'earlier-attempt' | 'other-delivery';
  /** The hop's result as recorded (another attempt's when this one did not store it). */
  readonly result: BatchResult;
  /** Pages in the hop's pack (0: no pack was written). */
  readonly packEntries: number;
  readonly ok: number;
  readonly unchanged: number;
  readonly failed: number;
  readonly bytesStored: number;
  /** Tasks handed to the next hop. */
  readonly continued: number;
  /** Detail pages this hop found and handed on (to new batches or its continuation). */
  readonly followed: number;
  /** New batches of detail pages this hop started. */
  readonly followBatches: number;
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
 * Why a task left unfinished at the hop limit failed, naming the real cause: a download
 * too slow to finish (how far it got, how fast), a source that never answered before a
 * hop's deadline, or the last error of its retries.
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
  const tried = task.tried;
  const last =
    tried?.lastError !== undefined
      ? `; last: ${tried.lastError} (${tried.attempts} requests, ${tried.failures} failed)`
      : '';
  if (progress === undefined) {
    return tried === undefined || tried.attempts === 0
      ? `${plain}: never started (no hop had time left for its estimate)`
      : `${plain}: too slow for a collector invocation${last}`;
  }
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
    attempts: task.tried?.attempts ?? 0,
    durationMs: 0,
    reason,
    finishedAt: new Date(now).toISOString(),
  };
}

/**
 * The task the next hop gets: with what it tried so far, with where its download resumes
 * when its bytes were stored for that, without a stale resume when this hop received (part
 * of) a new body.
 */
function continuedTask(
  task: CollectorTask,
  result: Extract<TaskResult, { kind: 'aborted' }>,
): CollectorTask {
  const { resume: _stale, tried: _counted, ...rest } = task;
  return { ...rest, tried: result.tried, ...(result.resume ? { resume: result.resume } : {}) };
}

/** Where the hop's record is, and who stored it. */
type HopRecord =
  | { readonly stored: true; readonly key: string }
  | { readonly stored: false; readonly key: string; readonly header: PackHeader };

/**
 * Stores the hop's record, ONE object: its pack, the result in the header (a header alone
 * when no page was packed). Written only if the hop has none yet: when it has, the stored
 * header is returned instead, and this invocation's pack is dropped unstored.
 */
async function writeRecord(
  payload: CollectorPayload,
  result: BatchResult,
  pack: PackWriter,
  deps: CollectorDeps,
): Promise<HopRecord> {
  const finished = await pack.finish({
    kind: PACK_KIND,
    version: PACK_VERSION,
    runId: result.runId,
    batchId: result.batchId,
    hop: result.hop,
    scheduledAt: payload.scheduledAt,
    entries: pack.entries,
    requestId: deps.context.awsRequestId,
    result,
  });
  const write = await storePack(deps, finished);
  if (!write.stored) {
    const header = await readStoredPackHeader(deps, finished.key, PACK_HEADER_MAX_BYTES);
    if (header === undefined) {
      // 412 then 404: the pack was deleted in between; nothing recorded the hop, so fail and retry.
      throw new StoreError(finished.key, new Error('pack exists (412) but reads as missing'));
    }
    return { stored: false, key: finished.key, header };
  }
  deps.log.info('pack written', {
    key: finished.key,
    entries: finished.entries,
    bytes: finished.bytes,
    spooled: finished.spooled,
    outcomes: result.outcomes.length,
    continued: result.continued.length,
  });
  return { stored: true, key: finished.key };
}

/**
 * Hands the unfinished tasks to the next hop. A failed invoke is recorded as a replayable
 * `continuation-failed` BatchFailure; returns the error to throw when a retry may help.
 */
async function invokeNextHop(
  continuation: CollectorPayload,
  deps: CollectorDeps,
  kind: 'continuation-failed' | 'dispatch-failed' = 'continuation-failed',
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
    log.info(kind === 'continuation-failed' ? 'continuation invoked' : 'detail batch invoked', {
      nextHop: hop,
      ...(kind === 'dispatch-failed' ? { detailBatchId: batchId } : {}),
      tasks: continuation.tasks.length,
    });
    return {};
  } catch (error) {
    const transient = !(error instanceof RangeError) && isTransientInvokeError(error);
    const failureKey = batchFailureKey(runId, batchId, hop);
    // Stored redacted: the payload holds source URLs and headers (credentials).
    const failure = withRedactedPayload({
      kind,
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
    // Whoever sends these tasks again (a retry from the record, a replay) starts them over.
    await removeHandedPartials(continuation.tasks, deps);
    return {
      failureKey,
      ...(transient
        ? { transientError: new ContinuationInvokeError(runId, batchId, hop, error) }
        : {}),
    };
  }
}

/** Deletes the stored bytes of cut downloads that no hop will resume. */
async function removeHandedPartials(
  tasks: readonly CollectorTask[],
  deps: CollectorDeps,
  keys: (task: CollectorTask) => readonly string[] = (task) =>
    task.resume ? [task.resume.key] : [],
): Promise<void> {
  const store = { partials: deps.partials ?? s3PartialStore(deps), log: deps.log };
  for (const task of tasks) {
    for (const key of keys(task)) await removePartial(store, key, task.source.id);
  }
}

/**
 * A redriven hop with no record: the attempts Lambda gave up on were killed before their
 * record, some maybe after storing the bytes of a download they cut (under their request
 * id, which this invocation does not know). Nobody will resume from those: they go now
 * (one LIST, only on a redrive), not at the bucket's expiry.
 */
async function removeGivenUpPartials(
  payload: CollectorPayload,
  deps: CollectorDeps,
): Promise<void> {
  const partials = deps.partials ?? s3PartialStore(deps);
  const prefix = hopPartialPrefix(payload);
  const keys = await partials.keys(prefix).catch((error: unknown) => {
    deps.log.warn('could not list the partial downloads of earlier attempts', {
      prefix,
      error: error instanceof Error ? error.message : String(error),
    });
    return [];
  });
  for (const key of keys) {
    const sourceId = payload.tasks.find((task) => key.startsWith(`${prefix}${task.source.id}-`))
      ?.source.id;
    await removePartial({ partials, log: deps.log }, key, sourceId ?? 'unknown');
  }
}

/** The key of the bytes this invocation stored for `task`'s cut download, if it stored any. */
function ownPartial(
  payload: CollectorPayload,
  task: CollectorTask,
  context: Pick<LambdaContext, 'awsRequestId'>,
): readonly string[] {
  const own = partialKey(payload, task.source.id, context.awsRequestId);
  return task.resume?.key === own ? [own] : [];
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
  const key = rawPackKey({
    runId: payload.runId,
    scheduledAt: payload.scheduledAt,
    batchId: payload.batchId,
    hop: payload.hop,
  });
  if (payload.redrive !== undefined) {
    // A redriven hop may have been recorded before its last attempt failed: no need to redo it.
    const header = await readStoredPackHeader(deps, key, PACK_HEADER_MAX_BYTES);
    if (header !== undefined) return handOnFromRecord(payload, { key, header }, deps);
    await removeGivenUpPartials(payload, deps);
  }
  const pack = new PackWriter(key, {
    tmpDir: deps.tmpDir,
    memoryBytes: deps.settings.packMemoryBytes,
    maxBytes: deps.settings.packMaxBytes,
  });
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

  // What a task started right now could use. An estimate above half of it (a measure from a
  // slow day, a hint) is taken as half: such a task starts in the first half of a hop and
  // gets the rest of it, instead of never starting at all.
  const hopBudgetMs = context.getRemainingTimeInMillis() - settings.safetyMarginMs;
  const outcomes: (TaskOutcome | undefined)[] = [];
  const continued: (CollectorTask | undefined)[] = [];
  const downloads: (DownloadSummary | undefined)[] = [];
  const discovered: (Discovered | undefined)[] = [];
  // Every request of the hop waits its origin's turn here (a share of a limited origin, or a
  // pause an origin asked for with Retry-After).
  const gate = new OriginGate(payload.origins, clock, deps.sleep);
  const transport = deps.transport;
  // Only a download cut by the deadline uses it: a normal run makes no request to it.
  const taskDeps = {
    ...deps,
    partials: deps.partials ?? s3PartialStore(deps),
    gate,
    robots:
      deps.robots ??
      new RobotsCache({
        runId,
        store: s3RobotsStore(deps),
        transport,
        lookup: deps.lookup,
        gate,
        clock,
        log,
      }),
  };
  let bytesStored = 0;
  let stopStarting = false;
  const originOfTask = (task: CollectorTask) => originOf(task.source.url) ?? task.source.url;
  try {
    await runPoolByOrigin(
      payload.tasks,
      settings.concurrency,
      originOfTask,
      gate,
      async (task, index) => {
        if (stopStarting || deadline.signal.aborted) {
          continued[index] = task;
          return;
        }
        const remainingMs = context.getRemainingTimeInMillis();
        const estimateMs = Math.min(task.estimateMs, Math.max(0, Math.floor(hopBudgetMs / 2)));
        if (remainingMs < estimateMs + settings.safetyMarginMs) {
          log.info('not enough time left for the next task; continuing later', {
            sourceId: task.source.id,
            remainingMs,
            estimateMs,
            safetyMarginMs: settings.safetyMarginMs,
          });
          stopStarting = true;
          continued[index] = task;
          return;
        }
        try {
          const result = await collectTask(payload, task, taskDeps, deadline.signal, pack);
          if (result.kind === 'aborted') {
            continued[index] = continuedTask(task, result);
            downloads[index] = result.download;
          } else {
            outcomes[index] = result.outcome;
            discovered[index] = result.discovered;
            bytesStored += result.bytesStored;
          }
        } catch (error) {
          // S3 (or the pack) is failing: starting more tasks would only fail the same way.
          stopStarting = true;
          throw error;
        }
      },
    );
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
    for (const [index, task] of continued.entries()) {
      if (task === undefined) continue;
      done.push(failedOutcome(task, hopLimitReason(hop, task, downloads[index]), clock.now()));
      // A download that will not be resumed: its stored bytes go now, not at the bucket's expiry.
      if (task.resume) await removePartial(taskDeps, task.resume.key, task.source.id);
    }
    unfinished = [];
  }

  const follow = planFollow(
    payload,
    discovered.filter((found): found is Discovered => found !== undefined),
    unfinished,
    gate,
    clock.now(),
  );
  const goingOn = [...unfinished, ...follow.joined];
  const result: BatchResult = {
    runId,
    batchId,
    hop,
    outcomes: done,
    continued: goingOn.map((t) => t.source.id),
    ...(follow.followed.length > 0 ? { followed: follow.followed } : {}),
    writtenAt: new Date(clock.now()).toISOString(),
  };
  const record = await writeRecord(payload, result, pack, deps);
  if (!record.stored) {
    // Another delivery holds the record and hands on its own resume points: the bytes
    // this invocation stored for its cut downloads (its request id is in their keys) are
    // nobody's.
    await removeHandedPartials(unfinished, deps, (task) => ownPartial(payload, task, context));
    return handOnFromRecord(payload, record, deps);
  }

  const handedOn = await handOn(payload, goingOn, deps, follow.continuationOrigins);
  const started = await startFollowBatches(follow, deps);
  return {
    recordKey: record.key,
    recordedBy: 'this-invocation',
    result,
    packEntries: pack.entries,
    ok: done.filter((o) => o.status === 'ok').length,
    unchanged: done.filter((o) => o.status === 'unchanged').length,
    failed: done.filter((o) => o.status === 'failed').length,
    bytesStored,
    ...handedOn,
    ...started,
  };
}

/**
 * Starts the new batches of detail pages the hop's record names (after the record, as a
 * continuation is). One that cannot be invoked is recorded as a `dispatch-failed` batch
 * (replayable); a throttle or service error fails the hop once all were tried, so Lambda's
 * retry starts them again from the record (a batch that did start stops the duplicate).
 */
async function startFollowBatches(
  follow: Pick<FollowPlan, 'batches' | 'followed'>,
  deps: CollectorDeps,
): Promise<Pick<BatchSummary, 'followed' | 'followBatches'>> {
  let transient: ContinuationInvokeError | undefined;
  for (const batch of follow.batches) {
    const invoked = await invokeNextHop(batch, deps, 'dispatch-failed');
    transient ??= invoked.transientError;
  }
  if (transient) throw transient;
  return {
    followed: follow.followed.reduce((sum, batch) => sum + batch.links.length, 0),
    followBatches: follow.batches.length,
  };
}

/** Invokes the next hop with `unfinished`, if any: what the summary says of it. */
async function handOn(
  payload: CollectorPayload,
  unfinished: readonly CollectorTask[],
  deps: CollectorDeps,
  origins: OriginAllowances | undefined,
): Promise<Pick<BatchSummary, 'continued' | 'continuation' | 'continuationFailureKey'>> {
  if (unfinished.length === 0) return { continued: 0 };
  // A redrive number belongs to the hop it was given to, not to the hops after it; the
  // origins' shares are what this hop kept of them, paced on from where it got.
  const { redrive: _redrive, origins: _given, ...rest } = payload;
  const next: CollectorPayload = {
    ...rest,
    hop: payload.hop + 1,
    tasks: [...unfinished],
    ...(origins !== undefined ? { origins } : {}),
  };
  const invoked = await invokeNextHop(next, deps);
  if (invoked.transientError) throw invoked.transientError;
  return invoked.failureKey === undefined
    ? { continued: unfinished.length, continuation: next }
    : { continued: unfinished.length, continuationFailureKey: invoked.failureKey };
}

/**
 * The hop already has its record. Stored by an earlier attempt of this invocation (same
 * request id: Lambda's retry after an error or a timeout) or before a redrive, it may have
 * stopped before handing its unfinished tasks on, so they are handed on now, from the
 * record (an interrupted download restarts: its resume point was in that attempt's
 * memory). Stored by another delivery of the same event (another request id: a
 * duplicate), that delivery hands on itself, so this one stops there: one record and one
 * chain of hops per batch.
 */
async function handOnFromRecord(
  payload: CollectorPayload,
  record: { readonly key: string; readonly header: PackHeader },
  deps: CollectorDeps,
): Promise<BatchSummary> {
  const { result, requestId } = record.header;
  const earlierAttempt =
    requestId === undefined ||
    requestId === deps.context.awsRequestId ||
    payload.redrive !== undefined;
  const base = {
    recordKey: record.key,
    result,
    packEntries: 0,
    ok: 0,
    unchanged: 0,
    failed: 0,
    bytesStored: 0,
  };
  const facts = { key: record.key, recordedByRequest: requestId, redrive: payload.redrive };
  if (!earlierAttempt) {
    deps.log.info('hop already recorded by another delivery of this event; leaving it that', facts);
    return { ...base, recordedBy: 'other-delivery', continued: 0, followed: 0, followBatches: 0 };
  }
  const left = new Set(result.continued);
  const handed = payload.tasks.filter((task) => left.has(task.source.id));
  // The detail pages the record names, rebuilt from the tasks that found them.
  const parents = new Map(payload.tasks.map((task) => [task.source.id, task]));
  const follow = recordedFollow(payload, result, parents);
  // The recorded attempt's resume points were in its memory: its bytes, and the bytes it
  // was handed, will not be resumed (a Lambda retry keeps the request id in the key).
  await removeHandedPartials(handed, deps, (task) => [
    ...(task.resume ? [task.resume.key] : []),
    ...(requestId !== undefined ? [partialKey(payload, task.source.id, requestId)] : []),
  ]);
  const unfinished = [...handed.map(({ resume: _interrupted, ...task }) => task), ...follow.joined];
  deps.log.info('hop already recorded by an earlier attempt; handing on what it left', {
    ...facts,
    continued: unfinished.length,
    followBatches: follow.batches.length,
  });
  const handedOn = await handOn(payload, unfinished, deps, follow.continuationOrigins);
  return {
    ...base,
    recordedBy: 'earlier-attempt',
    ...handedOn,
    ...(await startFollowBatches(follow, deps)),
  };
}

/** The detail pages a stored record handed on, as the hop that wrote it planned them. */
function recordedFollow(
  payload: CollectorPayload,
  result: BatchResult,
  parents: ReadonlyMap<string, CollectorTask>,
): FollowPlan {
  const joined: CollectorTask[] = [];
  const batches: CollectorPayload[] = [];
  const origins: OriginAllowances = { ...payload.origins };
  for (const followed of result.followed ?? []) {
    const tasks = tasksOfFollowed(followed, parents);
    if (followed.batchId === payload.batchId) {
      joined.push(...tasks);
      continue;
    }
    for (const origin of Object.keys(followed.origins ?? {})) delete origins[origin];
    if (tasks.length === 0) continue;
    batches.push({
      version: 1,
      runId: payload.runId,
      scheduledAt: payload.scheduledAt,
      batchId: followed.batchId,
      hop: 0,
      tasks,
      ...(followed.origins ? { origins: followed.origins } : {}),
    });
  }
  return {
    followed: result.followed ?? [],
    joined,
    batches,
    continuationOrigins: Object.keys(origins).length > 0 ? origins : undefined,
  };
}
