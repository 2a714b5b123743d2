import { createHash } from 'node:crypto';
import {
  type Clock,
  type CollectorTask,
  type Log,
  literalHeaders,
  maxSourceBytesFor,
  type Pagination,
  type Resume,
  redactUrl,
} from '@fanout/shared';
import { type BodyProgress, type BufferedBody, readBody } from './body.js';
import type { CollectorSettings } from './config.js';
import { contentCodings, DEFAULT_ACCEPT_ENCODING, decodeBody } from './decode.js';
import {
  BodyTooLargeError,
  DeadlineAbortError,
  FetchTimeoutError,
  MaxBytesTooLargeError,
  NetworkError,
  PaginationError,
  PartialUnavailableError,
  SourceFetchError,
  SourceTooLargeError,
  TooManyRedirectsError,
  UnsupportedProtocolError,
  UpstreamHttpError,
} from './errors.js';
import type { HttpResponse, HttpTransport } from './http.js';
import {
  assertNoDowngrade,
  bindToOrigin,
  type HeaderMap,
  headersFor,
  isGuarded,
  type OriginBinding,
  type SecretHeaderNames,
  withoutUserInfo,
} from './origin.js';
import { contentRangeStart, rangeHeaders, resumeValidator, totalBytesOf } from './resume.js';
import { isRetryableStatus, parseRetryAfter, retryDelayMs } from './retry.js';
import { type LookupFn, resolveGuarded } from './ssrf.js';
import type { PartialStore } from './store.js';

/** Waits `ms`; rejects when `signal` aborts. */
export type SleepFn = (ms: number, signal: AbortSignal) => Promise<void>;

export interface FetchDeps {
  readonly transport: HttpTransport;
  readonly lookup: LookupFn;
  readonly clock: Clock;
  readonly sleep: SleepFn;
  readonly random: () => number;
  readonly log: Log;
  readonly tmpDir: string;
  readonly settings: CollectorSettings;
  /** Where an interrupted download's bytes wait for the next hop; without it none resumes. */
  readonly partials?: PartialStore;
}

export interface FetchedPage {
  readonly page: number;
  /** The URL that answered, redacted (no `user:password@`, no query values): fit to write down. */
  readonly url: string;
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  /** The body, decoded: `headers['content-encoding']` no longer applies to it. */
  readonly body: BufferedBody;
  /** The Content-Encoding the body was decoded from (for logs; nothing stores it). */
  readonly decodedFrom?: string;
  readonly fetchedAt: string;
}

export type SourceFetch =
  | {
      readonly kind: 'not-modified';
      readonly status: number;
      readonly headers: Readonly<Record<string, string>>;
    }
  | { readonly kind: 'fetched'; readonly pages: readonly FetchedPage[]; readonly sha256: string };

/**
 * Mutable per-task bookkeeping, so a failure still reports how many attempts it took.
 * A continuation starts from what the earlier hops counted (`tried`), so retries are
 * counted across hops.
 */
export interface FetchProgress {
  /** Requests made for the task, in this hop and the earlier ones. */
  attempts: number;
  /** Attempts that failed (timeout, network error, retryable status), over all hops. */
  failures: number;
  /** Why the last one failed, or what the hard deadline cut. */
  lastError?: string;
  lastStatus?: number;
  /** Pages read so far; the caller disposes them whatever happens. */
  readonly pages: FetchedPage[];
  /**
   * The body being received, for a source of one page (no pagination): how far it got,
   * and whether the next hop could resume it. After a hard-deadline abort `spool` may
   * hold the bytes received; the caller releases it.
   */
  download?: DownloadProgress;
}

export interface DownloadProgress extends BodyProgress {
  /** When this hop started receiving the body. */
  readonly startedAt: number;
  /** The body's full length, when the server said it. */
  readonly totalBytes?: number;
  /** What If-Range would carry; undefined when the response cannot be resumed. */
  readonly validator?: string;
  /** The body came with a Content-Encoding (decoded here; its bytes cannot be resumed). */
  readonly encoded: boolean;
  /** The download resumed from (its time spent so far), when this hop resumed one. */
  readonly resumedFrom?: Resume;
}

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
const USER_AGENT = 'fanout-collector/0.1';

type Headers = HeaderMap;

function describe(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return typeof code === 'string' && !error.message.includes(code)
      ? `${code}: ${error.message}`
      : error.message;
  }
  return String(error);
}

interface PageRequest {
  readonly task: CollectorTask;
  readonly url: URL;
  /** Which headers each hop may carry, by origin. */
  readonly binding: OriginBinding;
  /** Validators of the first request: not credentials, so they follow every hop. */
  readonly conditionalHeaders: Headers;
  readonly conditional: boolean;
  /** Largest body this page may have. */
  readonly maxBytes: number;
  readonly deadline: AbortSignal;
  readonly progress: FetchProgress;
  /** Track this page as a download the next hop may resume (a source of one page). */
  readonly trackDownload: boolean;
  /** Resume an interrupted download: ask for the bytes after the stored ones. */
  readonly resume?: Resume;
  /** Failed attempts earlier hops already made at this request (the retry limit counts them). */
  readonly failedBefore: number;
}

/**
 * Follows redirects by hand so every hop passes the protocol check, the
 * downgrade check and the SSRF guard, and carries only the headers its origin
 * may have.
 */
async function requestFollowingRedirects(
  request: PageRequest,
  signal: AbortSignal,
  deps: FetchDeps,
  rangeRequest: Headers,
): Promise<{ response: HttpResponse; url: URL }> {
  const { source } = request.task;
  const { binding } = request;
  let url = withoutUserInfo(request.url);
  for (let redirects = 0; ; redirects += 1) {
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new UnsupportedProtocolError(source.id, url.href);
    }
    const pinnedAddress = isGuarded(binding, url)
      ? await resolveGuarded(url, { sourceId: source.id, lookup: deps.lookup })
      : undefined;
    const headers = { ...headersFor(binding, url), ...request.conditionalHeaders, ...rangeRequest };
    const response = await deps.transport({
      url,
      headers,
      signal,
      ...(pinnedAddress ? { pinnedAddress } : {}),
    });
    const location = response.headers.location;
    if (!REDIRECT_STATUSES.has(response.status) || location === undefined) {
      return { response, url };
    }
    response.discard();
    if (redirects >= deps.settings.maxRedirects) {
      throw new TooManyRedirectsError(source.id, deps.settings.maxRedirects);
    }
    let next: URL;
    try {
      next = withoutUserInfo(new URL(location, url));
    } catch {
      // The unparsable Location is not echoed: it cannot be redacted reliably.
      throw new UpstreamHttpError(
        source.id,
        response.status,
        url.href,
        'Location header is not a URL',
      );
    }
    assertNoDowngrade(source.id, 'redirect', url, next);
    deps.log.debug('following redirect', {
      sourceId: source.id,
      from: redactUrl(url.href),
      to: redactUrl(next.href),
      sourceOrigin: next.origin === binding.origin,
    });
    url = next;
  }
}

async function backoff(
  request: PageRequest,
  deps: FetchDeps,
  attempt: number,
  retryAfterMs: number | undefined,
  why: string,
): Promise<void> {
  const { settings } = deps;
  const delay = retryDelayMs(
    attempt,
    { baseMs: settings.retryBaseMs, maxDelayMs: settings.maxRetryAfterMs },
    retryAfterMs,
    deps.random,
  );
  deps.log.warn('retrying fetch', {
    sourceId: request.task.source.id,
    attempt,
    delayMs: delay,
    reason: why,
  });
  try {
    await deps.sleep(delay, request.deadline);
  } catch {
    throw new DeadlineAbortError(request.task.source.id);
  }
}

type PageResponse =
  | { readonly kind: 'not-modified'; readonly status: number; readonly headers: Headers }
  | {
      readonly kind: 'body';
      readonly status: number;
      readonly headers: Headers;
      readonly url: URL;
      readonly body: BufferedBody;
      readonly decodedFrom?: string;
    };

const optionalTotal = (totalBytes: number | undefined) =>
  totalBytes !== undefined ? { totalBytes } : {};
const optionalValidator = (validator: string | undefined) =>
  validator !== undefined ? { validator } : {};

/** Why a response to a range request cannot continue the stored bytes; undefined if it can. */
function resumeProblem(
  response: HttpResponse,
  resume: Resume,
  decodedFrom: string | undefined,
): string | undefined {
  if (response.status !== 206) return `the server sent HTTP ${response.status}, not 206`;
  const start = contentRangeStart(response.headers['content-range']);
  if (start !== resume.bytes) {
    return `Content-Range does not start at byte ${resume.bytes}`;
  }
  if (decodedFrom) return `the range came with Content-Encoding ${decodedFrom}`;
  const etag = response.headers.etag;
  if (etag !== undefined && resume.validator.startsWith('"') && etag !== resume.validator) {
    return 'the ETag changed';
  }
  return undefined;
}

/** The stored bytes of an interrupted download, then the rest from the server. */
async function* withStoredPrefix(
  partials: PartialStore,
  resume: Resume,
  rest: AsyncIterable<Uint8Array>,
): AsyncGenerator<Uint8Array> {
  let stored = 0;
  try {
    for await (const chunk of partials.load(resume.key)) {
      stored += chunk.length;
      yield chunk;
    }
  } catch (error) {
    throw new PartialUnavailableError(resume.key, error);
  }
  if (stored !== resume.bytes) {
    throw new PartialUnavailableError(
      resume.key,
      `holds ${stored} bytes, ${resume.bytes} expected`,
    );
  }
  yield* rest;
}

/**
 * Reads a 2xx body: decoded when it has a Content-Encoding, appended to the stored bytes
 * when it continues an interrupted download, and tracked so the hard deadline can hand a
 * cut one to the next hop. `restart` when a range answer cannot continue the stored bytes.
 */
async function receiveBody(
  request: PageRequest,
  deps: FetchDeps,
  response: HttpResponse,
  url: URL,
  resume: Resume | undefined,
): Promise<PageResponse | { readonly kind: 'restart'; readonly why: string }> {
  const { source } = request.task;
  const { partials } = deps;
  let codings: ReturnType<typeof contentCodings>;
  try {
    codings = contentCodings(source.id, response.headers['content-encoding']);
  } catch (error) {
    response.discard();
    throw error;
  }
  // Decoded here, so the hash, the unchanged check, the stored bytes and the parser
  // all see the real body, and the size limit bounds the decoded bytes.
  const decodedFrom = codings.length > 0 ? codings.join(', ') : undefined;
  let resumed: Resume | undefined;
  if (resume && partials) {
    const problem = resumeProblem(response, resume, decodedFrom);
    if (problem === undefined) {
      resumed = resume;
    } else if (response.status === 206) {
      response.discard();
      return { kind: 'restart', why: problem };
    } else {
      // 200: If-Range did not match (the resource changed), so this is the whole body.
      deps.log.warn('cannot resume the download; restarting it', {
        sourceId: source.id,
        reason: problem,
        bytesStored: resume.bytes,
      });
    }
  }
  // The announced length of an unencoded body is its size: over the limit, not one byte is read.
  const totalBytes = resumed ? resumed.totalBytes : totalBytesOf(response.headers);
  if (totalBytes !== undefined && totalBytes > request.maxBytes) {
    response.discard();
    throw new BodyTooLargeError(source.id, request.maxBytes, undefined, totalBytes);
  }
  const decoded = decodedFrom ? decodeBody(response.body, codings, source.id) : response.body;
  const download: DownloadProgress | undefined = request.trackDownload
    ? {
        bytes: 0,
        startedAt: deps.clock.now(),
        encoded: decodedFrom !== undefined,
        ...optionalTotal(totalBytes),
        ...optionalValidator(
          resumed ? resumed.validator : resumeValidator(response.headers, decodedFrom),
        ),
        ...(resumed ? { resumedFrom: resumed } : {}),
      }
    : undefined;
  request.progress.download = download;
  const body = await readBody(
    resumed && partials ? withStoredPrefix(partials, resumed, decoded) : decoded,
    {
      sourceId: source.id,
      maxBytes: request.maxBytes,
      memoryBufferBytes: deps.settings.memoryBufferBytes,
      tmpDir: deps.tmpDir,
      ...(decodedFrom ? { decodedFrom } : {}),
      ...(download ? { progress: download } : {}),
    },
  );
  return {
    kind: 'body',
    // A completed resume is the whole representation, as a 200 would have sent it.
    status: resumed ? 200 : response.status,
    headers: response.headers,
    url,
    body,
    ...(decodedFrom ? { decodedFrom } : {}),
  };
}

function noteFailure(progress: FetchProgress, reason: string): void {
  progress.failures += 1;
  progress.lastError = reason;
}

/** One page: attempts with timeout and backoff; reads the body inside the attempt. */
async function fetchPage(request: PageRequest, deps: FetchDeps): Promise<PageResponse> {
  const { source } = request.task;
  const { settings } = deps;
  const { partials } = deps;
  let resume = partials ? request.resume : undefined;
  const restart = (why: string) => {
    deps.log.warn('cannot resume the download; restarting it', {
      sourceId: source.id,
      reason: why,
      bytesStored: resume?.bytes,
    });
    resume = undefined;
  };
  // A continuation counts on from the failures earlier hops made at this request.
  for (let attempt = request.failedBefore + 1; ; attempt += 1) {
    if (request.deadline.aborted) throw new DeadlineAbortError(source.id);
    request.progress.attempts += 1;
    const attemptStartedAt = deps.clock.now();
    const timeout = AbortSignal.timeout(source.timeoutMs);
    const signal = AbortSignal.any([request.deadline, timeout]);
    let retryAfterMs: number | undefined;
    let why: string;
    let answered: HttpResponse | undefined;
    try {
      const { response, url } = await requestFollowingRedirects(
        request,
        signal,
        deps,
        resume ? rangeHeaders(resume) : {},
      );
      answered = response;
      request.progress.lastStatus = response.status;
      if (resume && response.status === 416) {
        // The stored bytes do not fit the resource any more: start over, at once.
        response.discard();
        restart('HTTP 416 to the range request');
        attempt -= 1;
        continue;
      }
      if (response.status === 304 && request.conditional) {
        response.discard();
        return { kind: 'not-modified', status: 304, headers: response.headers };
      }
      if (isRetryableStatus(response.status)) {
        response.discard();
        const failure = new UpstreamHttpError(source.id, response.status, url.href);
        noteFailure(request.progress, failure.message);
        if (attempt >= settings.fetchMaxAttempts) throw failure;
        retryAfterMs = parseRetryAfter(response.headers['retry-after'], deps.clock.now());
        why = `HTTP ${response.status}`;
      } else if (response.status < 200 || response.status > 299) {
        response.discard();
        throw new UpstreamHttpError(source.id, response.status, url.href);
      } else {
        const received = await receiveBody(request, deps, response, url, resume);
        if (received.kind !== 'restart') return received;
        restart(received.why);
        attempt -= 1;
        continue;
      }
    } catch (error) {
      // A body left unread (a decoder or size limit stopped it) must not hold its socket.
      answered?.discard();
      // The bytes of a cut download are kept only for the hard deadline (the next hop).
      if (request.deadline.aborted) {
        if (request.progress.download === undefined) {
          const waited = deps.clock.now() - attemptStartedAt;
          request.progress.lastError = `no complete response ${waited} ms into a request when the hop's deadline came`;
        }
        throw new DeadlineAbortError(source.id);
      }
      // Any other failure: the attempt's bytes are of no use to a next hop.
      await request.progress.download?.spool?.release();
      request.progress.download = undefined;
      if (error instanceof PartialUnavailableError) {
        restart(error.message);
        attempt -= 1;
        continue;
      }
      if (error instanceof SourceFetchError) throw error;
      const failure = timeout.aborted
        ? new FetchTimeoutError(source.id, source.timeoutMs)
        : new NetworkError(source.id, `network error: ${describe(error)}`);
      noteFailure(request.progress, failure.message);
      if (attempt >= settings.fetchMaxAttempts) throw failure;
      why = failure.message;
    }
    await backoff(request, deps, attempt, retryAfterMs, why);
  }
}

/** `Link: <https://x/?page=2>; rel="next", <...>; rel="last"` -> the next URL. */
export function nextFromLinkHeader(link: string | undefined): string | undefined {
  if (!link) return undefined;
  for (const match of link.matchAll(/<([^>]*)>((?:\s*;\s*[^;,]+)*)/g)) {
    const params = match[2] ?? '';
    const rel = /;\s*rel\s*=\s*(?:"([^"]*)"|([^\s;,]+))/i.exec(params);
    const value = rel?.[1] ?? rel?.[2];
    if (value?.toLowerCase().split(/\s+/).includes('next')) return match[1];
  }
  return undefined;
}

/** The value at a dot path (`links.next`, `pages.0.url`) of a parsed JSON document. */
export function valueAtPath(document: unknown, path: string): unknown {
  let current: unknown = document;
  for (const part of path.split('.')) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<string, unknown>)[part];
  }
  return current;
}

/** The next page's URL, without `user:password@`; errors never echo upstream values (they may hold secrets). */
async function nextPageUrl(
  pagination: Pagination,
  sourceId: string,
  page: { url: URL; headers: Headers; body: BufferedBody },
): Promise<URL | undefined> {
  let reference: string | undefined;
  if (pagination.type === 'link-header') {
    reference = nextFromLinkHeader(page.headers.link);
  } else if (pagination.type === 'html-next') {
    // The HTML library is loaded only by a source that paginates HTML.
    const { nextHtmlLink } = await import('./html-next.js');
    const contentType = page.headers['content-type'];
    reference = await nextHtmlLink(
      sourceId,
      { url: page.url, body: page.body, ...(contentType !== undefined ? { contentType } : {}) },
      pagination.selector,
    );
  } else {
    let document: unknown;
    try {
      document = JSON.parse(await page.body.text());
    } catch {
      throw new PaginationError(
        sourceId,
        `page ${page.url.href} is not JSON; cannot read ${pagination.path}`,
      );
    }
    const value = valueAtPath(document, pagination.path);
    if (value !== undefined && value !== null && value !== '' && typeof value !== 'string') {
      throw new PaginationError(
        sourceId,
        `${pagination.path} must be a URL string or null, got ${Array.isArray(value) ? 'array' : typeof value}`,
      );
    }
    reference = value === '' || value === null ? undefined : value;
  }
  if (reference === undefined) return undefined;
  try {
    return withoutUserInfo(new URL(reference, page.url));
  } catch {
    throw new PaginationError(sourceId, `next page reference on ${page.url.href} is not a URL`);
  }
}

async function hashPages(pages: readonly FetchedPage[]): Promise<string> {
  const first = pages[0];
  if (pages.length === 1 && first) return first.body.sha256;
  const hash = createHash('sha256');
  for (const page of pages) {
    const content = page.body.open();
    if (Buffer.isBuffer(content)) hash.update(content);
    else for await (const chunk of content) hash.update(chunk as Buffer);
  }
  return hash.digest('hex');
}

/**
 * The byte limits of one source: each page's (its maxBytes, or the collector's
 * default, never above the per-source limit) and all its pages together.
 */
function byteLimits(task: CollectorTask, settings: CollectorSettings) {
  const { source } = task;
  const perSource = maxSourceBytesFor(settings.concurrency);
  if (source.maxBytes !== undefined && source.maxBytes > perSource) {
    throw new MaxBytesTooLargeError(source.id, source.maxBytes, perSource);
  }
  return { perPage: source.maxBytes ?? Math.min(settings.maxBodyBytes, perSource), perSource };
}

/**
 * Whether to ask for the body unencoded: its last stored version was large (a download
 * that may not fit one hop), or an earlier hop of this run was cut receiving it encoded.
 * An encoded body has no strong validator of its own bytes (nginx weakens the ETag when
 * it compresses), so a cut one could never be resumed: every hop would start it over.
 */
export function wantsIdentityBody(task: CollectorTask, settings: CollectorSettings): boolean {
  if (task.tried?.identityBody === true) return true;
  return task.expectedBytes !== undefined && task.expectedBytes >= settings.identityFromBytes;
}

/**
 * Fetches a source: a conditional first request (validators from the last
 * run), then the following pages. The hash covers all pages, so "unchanged"
 * means the whole response set is byte-identical.
 *
 * The source's headers and the basic auth from its URL go to the source's
 * origin only; other origins a redirect or next page leads to get the
 * collector's defaults and the source's Accept headers (unless their values
 * came from a secret). https never steps
 * down to http. Compressed bodies (gzip, deflate, br) are decoded as they stream in;
 * `gzip, br` is asked for unless the source sets its own Accept-Encoding, or the body is
 * one that may need to resume (see `wantsIdentityBody`).
 */
export async function fetchSource(
  task: CollectorTask & SecretHeaderNames,
  deps: FetchDeps,
  deadline: AbortSignal,
  progress: FetchProgress,
): Promise<SourceFetch> {
  const { source, previous } = task;
  const limits = byteLimits(task, deps.settings);
  // Secret references were resolved by the caller (secrets.ts); one left unresolved is not sent.
  // A source's own Accept-Encoding (any case) replaces the default: bindToOrigin lower-cases names.
  const binding = bindToOrigin(
    {
      ...source,
      headers: literalHeaders(source.headers),
      ...(task.secretHeaders ? { secretHeaders: task.secretHeaders } : {}),
    },
    {
      'user-agent': USER_AGENT,
      'accept-encoding': wantsIdentityBody(task, deps.settings)
        ? 'identity'
        : DEFAULT_ACCEPT_ENCODING,
    },
  );
  const conditional: Record<string, string> = {};
  if (previous?.etag) conditional['if-none-match'] = previous.etag;
  if (previous?.lastModified) conditional['if-modified-since'] = previous.lastModified;
  const maxPages = source.pagination?.maxPages ?? 1;
  // Only a source of one page is tracked as a resumable download.
  const oneShot = source.pagination === undefined;
  const resume = oneShot ? task.resume : undefined;
  const seen = new Set<string>();
  let heldBytes = 0;
  let url: URL | undefined = withoutUserInfo(new URL(source.url));
  for (let page = 0; url !== undefined && page < maxPages; page += 1) {
    seen.add(url.href);
    const isFirst = page === 0;
    const budget = limits.perSource - heldBytes;
    let response: PageResponse;
    try {
      response = await fetchPage(
        {
          task,
          url,
          binding,
          // A resumed download changed since the last run (or it would have been a 304).
          conditionalHeaders: isFirst && !resume ? conditional : {},
          conditional: isFirst && !resume && Object.keys(conditional).length > 0,
          maxBytes: Math.min(limits.perPage, budget),
          deadline,
          progress,
          trackDownload: oneShot,
          failedBefore: isFirst ? (task.tried?.failures ?? 0) : 0,
          ...(isFirst && resume ? { resume } : {}),
        },
        deps,
      );
    } catch (error) {
      if (error instanceof BodyTooLargeError && budget < limits.perPage) {
        throw new SourceTooLargeError(source.id, limits.perSource, error.encoding);
      }
      throw error;
    }
    if (response.kind === 'not-modified') {
      return { kind: 'not-modified', status: response.status, headers: response.headers };
    }
    heldBytes += response.body.bytes;
    progress.pages.push({
      page,
      url: redactUrl(response.url.href),
      status: response.status,
      headers: response.headers,
      body: response.body,
      ...(response.decodedFrom ? { decodedFrom: response.decodedFrom } : {}),
      fetchedAt: new Date(deps.clock.now()).toISOString(),
    });
    const next = source.pagination
      ? await nextPageUrl(source.pagination, source.id, response)
      : undefined;
    if (next) assertNoDowngrade(source.id, 'next page', response.url, next);
    if (next && seen.has(next.href)) {
      deps.log.warn('pagination loops back; stopping', {
        sourceId: source.id,
        url: redactUrl(next.href),
      });
      break;
    }
    if (next && page + 1 >= maxPages) {
      deps.log.warn('pagination stopped at maxPages', { sourceId: source.id, maxPages });
    }
    url = next;
  }
  return { kind: 'fetched', pages: progress.pages, sha256: await hashPages(progress.pages) };
}
