import type { CollectorPayload, CollectorTask, Log, TaskOutcome, Validators } from '@fanout/shared';
import { redactUrlsIn } from '@fanout/shared';
import { DeadlineAbortError, SourceFetchError, UpstreamHttpError } from './errors.js';
import {
  type FetchDeps,
  type FetchProgress,
  fetchSource,
  type SourceFetch,
} from './fetch-source.js';
import type { PackWriter } from './pack.js';
import { type ResolvedTask, resolveTask, type SecretResolver, scrubSecrets } from './secrets.js';
import type { StoreTarget } from './store.js';
import { storePages } from './store-pages.js';

export type TaskResult =
  | { readonly kind: 'done'; readonly outcome: TaskOutcome; readonly bytesStored: number }
  /** Stopped by the hard deadline: goes to the continuation. */
  | { readonly kind: 'aborted' };

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
  collectorDeps: FetchDeps & StoreTarget & { readonly secrets?: SecretResolver },
  deadline: AbortSignal,
  pack: PackWriter,
): Promise<TaskResult> {
  const { source } = task;
  let deps = collectorDeps;
  let secrets: readonly string[] = [];
  const startedAt = deps.clock.now();
  const progress: FetchProgress = { attempts: 0, pages: [] };
  const finish = () => {
    const now = deps.clock.now();
    return { durationMs: Math.max(0, now - startedAt), finishedAt: new Date(now).toISOString() };
  };
  // Nothing new upstream: no pack entry, no PUT and so no parse, the biggest saving there is.
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
    let fetched: SourceFetch;
    try {
      // Resolved values live in this call only: the task that is stored, recorded and
      // continued keeps its references, and nothing written while fetching may hold them.
      const resolved: ResolvedTask = await resolveTask(task, collectorDeps.secrets);
      secrets = resolved.secrets;
      if (secrets.length > 0) {
        deps = { ...collectorDeps, log: scrubbingLog(collectorDeps.log, resolved.secrets) };
      }
      fetched = await fetchSource(resolved.task, deps, deadline, progress);
    } catch (error) {
      return fetchFailed(task, error, progress, deps, finish, secrets);
    }
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
    const rawKeys = await storePages(payload, task, fetched.pages, deps, pack);
    const bytes = fetched.pages.reduce((sum, page) => sum + page.body.bytes, 0);
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
  } finally {
    await Promise.all(progress.pages.map((page) => page.body.dispose()));
  }
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

/** The outcome of a fetch that threw: aborted at the deadline (continued later) or failed. */
function fetchFailed(
  task: CollectorTask,
  error: unknown,
  progress: FetchProgress,
  deps: FetchDeps,
  finish: () => { durationMs: number; finishedAt: string },
  secrets: readonly string[],
): TaskResult {
  const { source } = task;
  if (error instanceof DeadlineAbortError) {
    deps.log.warn('fetch aborted at the hard deadline', { sourceId: source.id });
    return { kind: 'aborted' };
  }
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
      ...finish(),
    },
  };
}
