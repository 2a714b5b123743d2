import type { CollectorPayload, CollectorTask, TaskOutcome, Validators } from '@fanout/shared';
import { rawKey } from '@fanout/shared';
import { DeadlineAbortError, SourceFetchError, StoreError, UpstreamHttpError } from './errors.js';
import { type FetchDeps, type FetchProgress, fetchSource } from './fetch-source.js';
import { type StoreTarget, storeRawPage } from './store.js';

export type TaskResult =
  | { readonly kind: 'done'; readonly outcome: TaskOutcome; readonly bytesStored: number }
  /** Stopped by the hard deadline: goes to the continuation. */
  | { readonly kind: 'aborted' };

const EXTENSIONS: Readonly<Record<string, string>> = {
  json: 'json',
  ndjson: 'ndjson',
  csv: 'csv',
  rss: 'xml',
  atom: 'xml',
};

/** File extension of a raw object: the format's own, xml for feeds, else `raw`. */
export function extensionFor(format: string): string {
  return EXTENSIONS[format] ?? 'raw';
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
 * Fetches one task and stores its pages. Per-source problems become a failed
 * outcome; only a store failure (transient, retry-fixable) is thrown.
 */
export async function collectTask(
  payload: CollectorPayload,
  task: CollectorTask,
  deps: FetchDeps & StoreTarget,
  deadline: AbortSignal,
): Promise<TaskResult> {
  const { source } = task;
  const startedAt = deps.clock.now();
  const progress: FetchProgress = { attempts: 0, pages: [] };
  const finish = () => {
    const now = deps.clock.now();
    return { durationMs: Math.max(0, now - startedAt), finishedAt: new Date(now).toISOString() };
  };
  // Nothing new upstream: no PUT and so no parse, the biggest saving there is.
  const unchanged = (httpStatus: number, validators: Validators): TaskResult => ({
    kind: 'done',
    bytesStored: 0,
    outcome: {
      status: 'unchanged',
      sourceId: source.id,
      attempts: progress.attempts,
      httpStatus,
      validators,
      ...finish(),
    },
  });
  try {
    const fetched = await fetchSource(task, deps, deadline, progress);
    if (fetched.kind === 'not-modified') {
      deps.log.info('source not modified', { sourceId: source.id, httpStatus: fetched.status });
      return unchanged(fetched.status, validatorsFrom(fetched.headers, task.previous, undefined));
    }
    const first = fetched.pages[0];
    const headers = first?.headers ?? {};
    const httpStatus = first?.status ?? 200;
    const validators = validatorsFrom(headers, task.previous, fetched.sha256);
    if (task.previous?.sha256 === fetched.sha256) {
      deps.log.info('source body unchanged', { sourceId: source.id, sha256: fetched.sha256 });
      return unchanged(httpStatus, validators);
    }
    const rawKeys: string[] = [];
    let bytes = 0;
    for (const page of fetched.pages) {
      const key = rawKey({
        sourceId: source.id,
        runId: payload.runId,
        scheduledAt: payload.scheduledAt,
        page: page.page,
        extension: extensionFor(source.format),
      });
      const contentType = page.headers['content-type'];
      await storeRawPage(deps, key, page.body, contentType, {
        runId: payload.runId,
        sourceId: source.id,
        batchId: payload.batchId,
        format: source.format,
        formatOptions: source.options,
        ...(contentType ? { contentType } : {}),
        fetchedAt: page.fetchedAt,
        scheduledAt: payload.scheduledAt,
        sha256: page.body.sha256,
        httpStatus: page.status,
        page: page.page,
      });
      deps.log.info('stored raw object', {
        sourceId: source.id,
        key,
        bytes: page.body.bytes,
        spooled: page.body.spooled,
      });
      rawKeys.push(key);
      bytes += page.body.bytes;
    }
    return {
      kind: 'done',
      bytesStored: bytes,
      outcome: {
        status: 'ok',
        sourceId: source.id,
        attempts: progress.attempts,
        httpStatus,
        bytes,
        rawKeys,
        validators,
        ...finish(),
      },
    };
  } catch (error) {
    if (error instanceof DeadlineAbortError) {
      deps.log.warn('fetch aborted at the hard deadline', { sourceId: source.id });
      return { kind: 'aborted' };
    }
    if (error instanceof StoreError) throw error;
    const known = error instanceof SourceFetchError;
    const reason = known ? error.message : `unexpected error: ${String(error)}`;
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
        ...finish(),
      },
    };
  } finally {
    await Promise.all(progress.pages.map((page) => page.body.dispose()));
  }
}
