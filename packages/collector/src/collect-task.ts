import type {
  CollectorPayload,
  CollectorTask,
  LambdaContext,
  Log,
  Resume,
  TaskOutcome,
  Tried,
  Validators,
} from '@fanout/shared';
import { PREFIXES, rawPackKey, redactUrlsIn } from '@fanout/shared';
import { DeadlineAbortError, SourceFetchError, UpstreamHttpError } from './errors.js';
import {
  type FetchDeps,
  type FetchProgress,
  fetchSource,
  type SourceFetch,
} from './fetch-source.js';
import { type Discovered, discoverLinks } from './follow.js';
import type { PackWriter } from './pack.js';
import { withCursorParam } from './record-selection.js';
import { type ResolvedTask, resolveTask, type SecretResolver, scrubSecrets } from './secrets.js';
import { objectExists, type StoreTarget } from './store.js';
import { storePages } from './store-pages.js';

export type TaskResult =
  | {
      readonly kind: 'done';
      readonly outcome: TaskOutcome;
      readonly bytesStored: number;
      /** A source that follows links: the detail pages its pages link. */
      readonly discovered?: Discovered;
    }
  /** Stopped by the hard deadline: goes to the continuation. */
  | {
      readonly kind: 'aborted';
      /** How far its body got, when the deadline cut one. */
      readonly download?: DownloadSummary;
      /** Where the next hop resumes it, when its bytes were stored for that. */
      readonly resume?: Resume;
      /** What this hop and the earlier ones tried, for the next hop to count on from. */
      readonly tried: Tried;
    };

/** A download cut by the hard deadline, for the failure reason when no hop is left. */
export interface DownloadSummary {
  /** Bytes received so far (over all hops, for a resumed download). */
  readonly bytes: number;
  readonly totalBytes?: number;
  /** Time spent receiving them. */
  readonly downloadMs: number;
  /** Whether it can be resumed: a strong validator, an identity body, spooled to /tmp. */
  readonly resumable: boolean;
}

/**
 * Where the bytes of a cut download wait: under the run, never under raw/ (no parse). The
 * request id keeps two deliveries of one hop (a duplicate) from writing the same key, so
 * the bytes a continuation resumes from are the ones its resume point describes.
 */
export function partialKey(payload: CollectorPayload, sourceId: string, requestId: string): string {
  return `${hopPartialPrefix(payload)}${sourceId}-${requestId}.part`;
}

/** Where every attempt of the payload's hop stores the bytes of its cut downloads. */
export function hopPartialPrefix(payload: CollectorPayload): string {
  return `${PREFIXES.runs}${payload.runId}/partial/${payload.batchId}-h${payload.hop}-`;
}

function validatorsFrom(
  headers: Readonly<Record<string, string>>,
  previous: Validators | undefined,
  sha256: string | undefined,
): Validators {
  const etag = headers.etag ?? previous?.etag;
  const lastModified = headers['last-modified'] ?? previous?.lastModified;
  const hash = sha256 ?? previous?.sha256;
  return {
    ...(etag ? { etag } : {}),
    ...(lastModified ? { lastModified } : {}),
    ...(hash ? { sha256: hash } : {}),
  };
}

/**
 * Fetches one task and stores its pages (in the hop's pack or on their own). Problems
 * while fetching become a failed outcome. Nothing after the fetch is turned into one:
 * the pack is shared by the hop's tasks, so a store or pack failure fails the hop, and
 * the retried hop rewrites the same keys.
 */
export async function collectTask(
  payload: CollectorPayload,
  task: CollectorTask,
  collectorDeps: FetchDeps &
    StoreTarget & {
      readonly secrets?: SecretResolver;
      readonly context: Pick<LambdaContext, 'awsRequestId'>;
    },
  deadline: AbortSignal,
  pack: PackWriter,
): Promise<TaskResult> {
  const { source } = task;
  let deps = collectorDeps;
  let secrets: readonly string[] = [];
  const startedAt = deps.clock.now();
  const progress: FetchProgress = {
    attempts: task.tried?.attempts ?? 0,
    failures: task.tried?.failures ?? 0,
    ...(task.tried?.lastError !== undefined ? { lastError: task.tried.lastError } : {}),
    pages: [],
  };
  let handedOn: Resume | undefined;
  const finish = () => {
    const now = deps.clock.now();
    return { durationMs: Math.max(0, now - startedAt), finishedAt: new Date(now).toISOString() };
  };
  let discovered: Discovered | undefined;
  const followed = () => (discovered === undefined ? {} : { discovered, links: discovered.counts });
  // Nothing new upstream: no pack entry, no PUT and so no parse, the biggest saving there is.
  const unchanged = (httpStatus: number, validators: Validators): TaskResult => {
    const { discovered: found, links } = followed();
    return {
      kind: 'done',
      bytesStored: 0,
      ...(found ? { discovered: found } : {}),
      outcome: {
        status: 'unchanged',
        sourceId: source.id,
        attempts: progress.attempts,
        httpStatus,
        validators,
        ...finish(),
        ...(links ? { links } : {}),
      },
    };
  };
  try {
    let fetched: SourceFetch;
    try {
      // Resolved values live in this call only: the task that is stored, recorded and
      // continued keeps its references, and nothing written while fetching may hold them.
      const resolved: ResolvedTask = await resolveTask(
        withCursorParam(task),
        collectorDeps.secrets,
      );
      secrets = resolved.secrets;
      if (secrets.length > 0) {
        deps = { ...collectorDeps, log: scrubbingLog(collectorDeps.log, resolved.secrets) };
      }
      fetched = await fetchSource(resolved.task, deps, deadline, progress);
    } catch (error) {
      if (error instanceof DeadlineAbortError) {
        const aborted = await handOffAborted(payload, task, progress, deps);
        handedOn = aborted.resume;
        return aborted;
      }
      return fetchFailed(task, error, progress, deps, finish, secrets);
    }
    if (fetched.kind === 'not-modified') {
      deps.log.info('source not modified', { sourceId: source.id, httpStatus: fetched.status });
      return unchanged(fetched.status, validatorsFrom(fetched.headers, task.previous, undefined));
    }
    if (source.follow !== undefined) {
      // Read even when the pages did not change: their detail pages may have.
      try {
        const { links, counts } = await discoverLinks(task, fetched.pages, (text) =>
          scrubSecrets(text, secrets),
        );
        const perPage = Math.round(
          (deps.clock.now() - startedAt) / Math.max(1, fetched.pages.length),
        );
        discovered = { task, links, counts, estimateMs: perPage };
      } catch (error) {
        return fetchFailed(task, error, progress, deps, finish, secrets);
      }
    }
    const first = fetched.pages[0];
    const headers = first?.headers ?? {};
    const httpStatus = first?.status ?? 200;
    const validators = validatorsFrom(headers, task.previous, fetched.sha256);
    if (task.previous?.sha256 === fetched.sha256) {
      deps.log.info('source body unchanged', { sourceId: source.id, sha256: fetched.sha256 });
      return unchanged(httpStatus, validators);
    }
    // An upstream may echo a credential into a URL (a redirect to /auth/<token>): the
    // stored page URLs are scrubbed as logs and failure reasons are.
    const pages = fetched.pages.map((page) => ({
      ...page,
      url: scrubSecrets(page.url, secrets),
      answeredUrl:
        secrets.length > 0
          ? new URL(scrubSecrets(page.answeredUrl.href, secrets))
          : page.answeredUrl,
    }));
    const rawKeys = await storePages(payload, task, pages, deps, pack);
    const bytes = fetched.pages.reduce((sum, page) => sum + page.body.bytes, 0);
    const { discovered: found, links } = followed();
    return {
      kind: 'done',
      bytesStored: bytes,
      ...(found ? { discovered: found } : {}),
      outcome: {
        status: 'ok',
        sourceId: source.id,
        attempts: progress.attempts,
        httpStatus,
        bytes,
        rawKeys,
        validators,
        ...finish(),
        ...(links ? { links } : {}),
      },
    };
  } finally {
    await Promise.all(progress.pages.map((page) => page.body.dispose()));
    await progress.download?.spool?.release();
    // The stored bytes this task was handed are used or superseded, whatever the outcome.
    if (task.resume !== undefined && task.resume.key !== handedOn?.key) {
      await removePartial(deps, task.resume.key, source.id);
    }
  }
}

/** Deletes a partial download's bytes; a failure only leaves them to the bucket's expiry. */
export async function removePartial(
  deps: Pick<FetchDeps, 'partials' | 'log'>,
  key: string,
  sourceId: string,
): Promise<void> {
  await deps.partials?.remove(key).catch((error: unknown) => {
    deps.log.warn('could not remove a partial download', {
      sourceId,
      key,
      error: error instanceof Error ? error.message : String(error),
    });
  });
}

/**
 * A task the hard deadline stopped. When it was receiving a body the server lets us
 * resume (and a next hop may run), the bytes received go to S3 and the next hop asks
 * for the rest with Range + If-Range; otherwise the next hop starts it over.
 */
async function handOffAborted(
  payload: CollectorPayload,
  task: CollectorTask,
  progress: FetchProgress,
  deps: FetchDeps & StoreTarget & { readonly context: Pick<LambdaContext, 'awsRequestId'> },
): Promise<Extract<TaskResult, { kind: 'aborted' }>> {
  const { source } = task;
  const download = progress.download;
  const tried: Tried = {
    attempts: progress.attempts,
    failures: progress.failures,
    ...(progress.lastError !== undefined ? { lastError: progress.lastError } : {}),
    // A body cut while it came encoded could not resume: the next hop asks for it unencoded.
    ...(download?.encoded || task.tried?.identityBody ? { identityBody: true as const } : {}),
  };
  if (download === undefined) {
    // Cut before a body came: the bytes this task was handed, if any, still wait for it.
    deps.log.warn('fetch aborted at the hard deadline', { sourceId: source.id });
    return { kind: 'aborted', tried, ...(task.resume ? { resume: task.resume } : {}) };
  }
  const bytes = download.spool?.bytes ?? download.bytes;
  const downloadMs =
    (download.resumedFrom?.downloadMs ?? 0) + Math.max(0, deps.clock.now() - download.startedAt);
  const summary: DownloadSummary = {
    bytes,
    downloadMs,
    // Only bytes spooled to /tmp are stored for the next hop; a body still in memory restarts.
    resumable: download.validator !== undefined && download.spool !== undefined,
    ...(download.totalBytes !== undefined ? { totalBytes: download.totalBytes } : {}),
  };
  const partials = deps.partials;
  const spool = download.spool;
  const canResume =
    partials !== undefined &&
    spool !== undefined &&
    spool.bytes > 0 &&
    download.validator !== undefined &&
    payload.hop < deps.settings.maxHops;
  deps.log.warn('download aborted at the hard deadline', {
    sourceId: source.id,
    bytes,
    totalBytes: download.totalBytes,
    downloadMs,
    resumable: summary.resumable,
    storingPartial: canResume,
  });
  if (!canResume || download.validator === undefined) {
    return { kind: 'aborted', download: summary, tried };
  }
  if (await hopAlreadyRecorded(payload, deps)) {
    // A retry of a hop whose earlier attempt stored the record (and was killed after it):
    // that attempt's chain resumes or restarts the download, and may already have removed
    // its bytes; stored again here, they would be nobody's.
    deps.log.warn('the hop is already recorded; not storing the partial download', {
      sourceId: source.id,
    });
    await spool.release();
    return { kind: 'aborted', download: summary, tried };
  }
  const key = partialKey(payload, source.id, deps.context.awsRequestId);
  try {
    await partials.save(key, spool.path);
  } catch (error) {
    // The next hop starts over: slower, not wrong.
    deps.log.warn('could not store the partial download; the next hop restarts it', {
      sourceId: source.id,
      key,
      error: error instanceof Error ? error.message : String(error),
    });
    return { kind: 'aborted', download: summary, tried };
  } finally {
    await spool.release();
  }
  const resume: Resume = {
    key,
    bytes: spool.bytes,
    validator: download.validator,
    downloadMs,
    ...(download.totalBytes !== undefined ? { totalBytes: download.totalBytes } : {}),
  };
  return { kind: 'aborted', download: summary, resume, tried };
}

/** Whether the hop's record is stored already; a failed check answers no (store as before). */
async function hopAlreadyRecorded(
  payload: CollectorPayload,
  deps: StoreTarget & Pick<FetchDeps, 'log'>,
): Promise<boolean> {
  const { runId, scheduledAt, batchId, hop } = payload;
  return objectExists(deps, rawPackKey({ runId, scheduledAt, batchId, hop })).catch(
    (error: unknown) => {
      deps.log.warn('could not check for the hop record', {
        error: error instanceof Error ? error.message : String(error),
      });
      return false;
    },
  );
}

/** A log that writes `[secret]` wherever a resolved secret value would appear. */
function scrubbingLog(log: Log, secrets: readonly string[]): Log {
  const scrub = (extra: Record<string, unknown>[]): Record<string, unknown>[] =>
    extra.map((attributes) => JSON.parse(scrubSecrets(JSON.stringify(attributes), secrets)));
  return {
    debug: (message, ...extra) => log.debug(scrubSecrets(message, secrets), ...scrub(extra)),
    info: (message, ...extra) => log.info(scrubSecrets(message, secrets), ...scrub(extra)),
    warn: (message, ...extra) => log.warn(scrubSecrets(message, secrets), ...scrub(extra)),
    error: (message, ...extra) => log.error(scrubSecrets(message, secrets), ...scrub(extra)),
  };
}

/** The outcome of a fetch that failed (the hard deadline's aborts are handed off above). */
function fetchFailed(
  task: CollectorTask,
  error: unknown,
  progress: FetchProgress,
  deps: FetchDeps,
  finish: () => { durationMs: number; finishedAt: string },
  secrets: readonly string[],
): TaskResult {
  const { source } = task;
  const known = error instanceof SourceFetchError;
  // Upstream errors name the URL; a stored or logged reason never carries its credentials.
  // A resolved secret is scrubbed too: an upstream error may echo a header or query value.
  const reason = scrubSecrets(
    redactUrlsIn(known ? error.message : `unexpected error: ${String(error)}`),
    secrets,
  );
  deps.log.warn('task failed', {
    sourceId: source.id,
    reason,
    attempts: progress.attempts,
    ...(known ? { errorName: error.name } : {}),
  });
  const httpStatus = error instanceof UpstreamHttpError ? error.status : undefined;
  return {
    kind: 'done',
    bytesStored: 0,
    outcome: {
      status: 'failed',
      sourceId: source.id,
      attempts: progress.attempts,
      reason,
      ...(httpStatus !== undefined ? { httpStatus } : {}),
      ...(known && error.permanent ? { permanent: true } : {}),
      ...finish(),
    },
  };
}
