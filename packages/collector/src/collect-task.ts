import type { Readable } from 'node:stream';
import type {
  CollectorPayload,
  CollectorTask,
  PackEntryFields,
  TaskOutcome,
  Validators,
} from '@fanout/shared';
import { rawKey, redactUrl, redactUrlsIn } from '@fanout/shared';
import type { BufferedBody } from './body.js';
import { DeadlineAbortError, SourceFetchError, UpstreamHttpError } from './errors.js';
import {
  type FetchDeps,
  type FetchedPage,
  type FetchProgress,
  fetchSource,
  type SourceFetch,
} from './fetch-source.js';
import type { PackWriter } from './pack.js';
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

/** Streams a page to its own raw key, as every page was stored before packs. */
async function storeOwnObject(
  payload: CollectorPayload,
  task: CollectorTask,
  page: FetchedPage,
  deps: FetchDeps & StoreTarget,
): Promise<string> {
  const { source } = task;
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
  return key;
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

/** The bytes of a body small enough for a pack entry (a spooled one is read back). */
async function bodyBuffer(body: BufferedBody): Promise<Buffer> {
  const content = body.open();
  if (Buffer.isBuffer(content)) return content;
  const chunks: Buffer[] = [];
  for await (const chunk of content as Readable) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** What a pack entry says about its page, so the parser needs nothing else. */
function entryFields(task: CollectorTask, page: FetchedPage): PackEntryFields {
  const { headers } = page;
  const contentType = headers['content-type'];
  // The transport passes bodies through as sent, so a Content-Encoding still applies.
  const encoding = headers['content-encoding'];
  const contentEncoding = encoding && encoding.toLowerCase() !== 'identity' ? encoding : undefined;
  return {
    sourceId: task.source.id,
    page: page.page,
    url: redactUrl(page.url),
    httpStatus: page.status,
    ...(contentType ? { contentType } : {}),
    ...(contentEncoding ? { contentEncoding } : {}),
    ...(headers.etag ? { etag: headers.etag } : {}),
    ...(headers['last-modified'] ? { lastModified: headers['last-modified'] } : {}),
    fetchedAt: page.fetchedAt,
    sha256: page.body.sha256,
    format: task.source.format,
    formatOptions: task.source.options,
  };
}

/**
 * Stores a fetched source's pages: each page small enough goes into the hop's pack, any
 * other to its own raw object. Returns the raw key of each page, in page order.
 */
async function storePages(
  payload: CollectorPayload,
  task: CollectorTask,
  pages: readonly FetchedPage[],
  deps: FetchDeps & StoreTarget,
  pack: PackWriter,
): Promise<string[]> {
  const { source } = task;
  const rawKeys: string[] = [];
  for (const page of pages) {
    const packable = page.body.bytes <= deps.settings.packEntryMaxBytes;
    if (packable && (await pack.append(entryFields(task, page), await bodyBuffer(page.body)))) {
      deps.log.info('packed raw page', {
        sourceId: source.id,
        page: page.page,
        url: redactUrl(page.url),
        key: pack.key,
        bytes: page.body.bytes,
      });
      rawKeys.push(pack.key);
      continue;
    }
    if (packable) {
      deps.log.info('pack is full; storing the page on its own', {
        sourceId: source.id,
        page: page.page,
        packBytes: pack.bytes,
        packMaxBytes: deps.settings.packMaxBytes,
      });
    }
    rawKeys.push(await storeOwnObject(payload, task, page, deps));
  }
  return rawKeys;
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
  deps: FetchDeps & StoreTarget,
  deadline: AbortSignal,
  pack: PackWriter,
): Promise<TaskResult> {
  const { source } = task;
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
      fetched = await fetchSource(task, deps, deadline, progress);
    } catch (error) {
      return fetchFailed(task, error, progress, deps, finish);
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

/** The outcome of a fetch that threw: aborted at the deadline (continued later) or failed. */
function fetchFailed(
  task: CollectorTask,
  error: unknown,
  progress: FetchProgress,
  deps: FetchDeps,
  finish: () => { durationMs: number; finishedAt: string },
): TaskResult {
  const { source } = task;
  if (error instanceof DeadlineAbortError) {
    deps.log.warn('fetch aborted at the hard deadline', { sourceId: source.id });
    return { kind: 'aborted' };
  }
  const known = error instanceof SourceFetchError;
  // Upstream errors name the URL; a stored or logged reason never carries its credentials.
  const reason = redactUrlsIn(known ? error.message : `unexpected error: ${String(error)}`);
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
