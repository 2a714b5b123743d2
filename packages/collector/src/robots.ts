import { createHash } from 'node:crypto';
import { type Clock, type Log, PREFIXES, redactUrl } from '@fanout/shared';
import robotsParser from 'robots-parser';
import { RobotsDisallowedError } from './errors.js';
import type { HttpTransport } from './http.js';
import type { OriginGate } from './origin-gate.js';
import { holdingRoom } from './origin-gate.js';
import { type LookupFn, resolveGuarded } from './ssrf.js';

/**
 * robots.txt (RFC 9309) for sources with `respectRobotsTxt`: fetched once per origin per run
 * and kept in the run (`runs/<run>/robots/<origin hash>.json`), so the collectors of the run
 * share one copy, and each invocation keeps what it read in memory. Parsed with
 * robots-parser (the group of the most specific user agent, else `*`; the longest matching
 * path wins, `Allow` on a tie; `*` and `$`). How the file answered decides the rest, as the
 * RFC says: a 4xx means no rules, a 5xx or no answer means everything is disallowed.
 */

/** Bytes of a robots.txt read (the RFC asks parsers to read at least 500 KiB). */
export const ROBOTS_MAX_BYTES = 512 * 1024;
/** Redirects followed for robots.txt (the RFC: at least five). */
const ROBOTS_MAX_REDIRECTS = 5;
const ROBOTS_TIMEOUT_MS = 10_000;

/** A robots.txt as the run keeps it. */
interface RobotsFile {
  readonly origin: string;
  /** The HTTP status of the answer, or 0 when there was none. */
  readonly status: number;
  readonly fetchedAt: string;
  /** The rules (2xx only), cut at ROBOTS_MAX_BYTES. */
  readonly body?: string;
  /** Why there was no answer. */
  readonly error?: string;
}

/** Where a run keeps the robots.txt files it read. */
export interface RobotsStore {
  get(key: string): Promise<string | undefined>;
  /** Stores `text` if the key is absent; false when another collector stored it first. */
  putIfAbsent(key: string, text: string): Promise<boolean>;
}

export interface RobotsDeps {
  readonly runId: string;
  readonly store: RobotsStore;
  readonly transport: HttpTransport;
  readonly lookup: LookupFn;
  readonly gate?: OriginGate;
  readonly clock: Clock;
  readonly log: Log;
}

/** What the source's request to `url` may carry of the guard. */
export interface RobotsRequest {
  readonly sourceId: string;
  readonly url: URL;
  readonly userAgent: string;
  /** The SSRF guard checks this origin's host (not the source's own with allowPrivateNetwork). */
  readonly guarded: boolean;
  readonly signal: AbortSignal;
}

/** The product token robots.txt groups are matched against: `FanoutBot` of `FanoutBot/1.2 (+url)`. */
export function robotsToken(userAgent: string): string {
  const compatible = /compatible;\s*([A-Za-z0-9_-]+)/i.exec(userAgent)?.[1];
  if (/^mozilla\//i.test(userAgent) && compatible !== undefined) return compatible;
  return /^[A-Za-z0-9_-]+/.exec(userAgent.trim())?.[0] ?? '*';
}

export function robotsKey(runId: string, origin: string): string {
  const hash = createHash('sha256').update(origin).digest('hex').slice(0, 16);
  return `${PREFIXES.runs}${runId}/robots/${hash}.json`;
}

export class RobotsCache {
  private readonly files = new Map<string, Promise<RobotsFile>>();

  constructor(private readonly deps: RobotsDeps) {}

  /** Throws RobotsDisallowedError when the origin's robots.txt disallows `url` for the agent. */
  async check(request: RobotsRequest): Promise<void> {
    const { url, userAgent } = request;
    let file = this.files.get(url.origin);
    if (file === undefined) {
      file = this.load(request);
      this.files.set(url.origin, file);
      // A failure to read the run's copy is not cached: the next request asks again.
      file.catch(() => this.files.delete(url.origin));
    }
    const robots = await file;
    const token = robotsToken(userAgent);
    const shown = redactUrl(url.href);
    if (robots.status === 0 || robots.status >= 500) {
      throw new RobotsDisallowedError(
        request.sourceId,
        `${url.origin}/robots.txt could not be read (${robots.error ?? `HTTP ${robots.status}`}), which RFC 9309 reads as disallowing everything; ${shown} was not fetched`,
      );
    }
    if (robots.status >= 400 || robots.body === undefined) return;
    const rules = robotsParser(`${url.origin}/robots.txt`, robots.body);
    if (rules.isDisallowed(url.href, token) === true) {
      const line = rules.getMatchingLineNumber(url.href, token);
      throw new RobotsDisallowedError(
        request.sourceId,
        `${url.origin}/robots.txt disallows ${shown} for user agent ${JSON.stringify(token)}${line > 0 ? ` (line ${line})` : ''}; not fetched`,
      );
    }
  }

  /** The run's copy, else a fetch stored for the run's other collectors. */
  private async load(request: RobotsRequest): Promise<RobotsFile> {
    const key = robotsKey(this.deps.runId, request.url.origin);
    const stored = await this.deps.store.get(key);
    const parsed = stored === undefined ? undefined : readStored(stored, request.url.origin);
    if (parsed !== undefined) return parsed;
    const fetched = await this.fetch(request);
    const text = JSON.stringify(fetched);
    if (!(await this.deps.store.putIfAbsent(key, text))) {
      const first = await this.deps.store.get(key);
      const theirs = first === undefined ? undefined : readStored(first, request.url.origin);
      if (theirs !== undefined) return theirs;
    }
    this.deps.log.info('robots.txt read', {
      origin: fetched.origin,
      status: fetched.status,
      bytes: fetched.body?.length ?? 0,
      key,
    });
    return fetched;
  }

  private async fetch(request: RobotsRequest): Promise<RobotsFile> {
    const { deps } = this;
    const fetchedAt = new Date(deps.clock.now()).toISOString();
    const origin = request.url.origin;
    let url = new URL('/robots.txt', origin);
    const signal = AbortSignal.any([request.signal, AbortSignal.timeout(ROBOTS_TIMEOUT_MS)]);
    try {
      for (let redirects = 0; ; redirects += 1) {
        const pinnedAddress = request.guarded
          ? await resolveGuarded(url, { sourceId: request.sourceId, lookup: deps.lookup })
          : undefined;
        const release = deps.gate ? await deps.gate.acquire(url.origin, signal) : () => {};
        let response: Awaited<ReturnType<HttpTransport>>;
        try {
          response = await deps.transport({
            url,
            headers: { 'user-agent': request.userAgent, accept: 'text/plain' },
            signal,
            ...(pinnedAddress ? { pinnedAddress } : {}),
          });
        } catch (error) {
          release();
          throw error;
        }
        response = holdingRoom(response, release, signal);
        const location = response.headers.location;
        if (response.status >= 300 && response.status < 400 && location !== undefined) {
          response.discard();
          if (redirects >= ROBOTS_MAX_REDIRECTS) {
            return { origin, status: 0, fetchedAt, error: 'too many redirects' };
          }
          const next = new URL(location, url);
          if (next.protocol !== 'http:' && next.protocol !== 'https:') {
            return { origin, status: 0, fetchedAt, error: 'redirected off http(s)' };
          }
          url = next;
          continue;
        }
        if (response.status < 200 || response.status >= 300) {
          response.discard();
          return { origin, status: response.status, fetchedAt };
        }
        return { origin, status: response.status, fetchedAt, body: await readText(response) };
      }
    } catch (error) {
      if (request.signal.aborted) throw error;
      const reason = error instanceof Error ? error.message : String(error);
      return { origin, status: 0, fetchedAt, error: reason };
    }
  }
}

async function readText(response: Awaited<ReturnType<HttpTransport>>): Promise<string> {
  const chunks: Buffer[] = [];
  let bytes = 0;
  for await (const chunk of response.body) {
    const buffer = Buffer.from(chunk);
    chunks.push(buffer.subarray(0, Math.max(0, ROBOTS_MAX_BYTES - bytes)));
    bytes += buffer.length;
    if (bytes >= ROBOTS_MAX_BYTES) {
      response.discard();
      break;
    }
  }
  return Buffer.concat(chunks).toString('utf8');
}

function readStored(text: string, origin: string): RobotsFile | undefined {
  try {
    const value = JSON.parse(text) as Partial<RobotsFile>;
    if (value.origin !== origin || typeof value.status !== 'number') return undefined;
    return value as RobotsFile;
  } catch {
    return undefined;
  }
}
