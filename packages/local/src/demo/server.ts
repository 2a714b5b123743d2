import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PortInUseError } from '../errors.js';
import { entityTag, isNotModified } from './conditional.js';
import { API_PAGES, apiPage, generatedDocument, generatedSourceId } from './content.js';
import { DemoSourcesError } from './errors.js';
import { type DemoManifest, type DemoManifestOptions, demoManifest } from './manifest.js';
import { sampleIndices, seededRandom } from './random.js';
import { SHOP_LIST_PAGES, SHOP_PRODUCT_PATH, shopListPage, shopProductPage } from './shop.js';
import { API_PATH, STATIC_SOURCES, type StaticDemoSource } from './sources.js';

export interface DemoFaults {
  /** Fraction of requests answered with 500. */
  readonly errorRate?: number;
  /** Fraction of requests never answered (until the client gives up). */
  readonly hangRate?: number;
}

export interface DemoSourcesOptions {
  /** Default 127.0.0.1. */
  readonly host?: string;
  /** Default 0 (a free port). */
  readonly port?: number;
  /** Generated sources `/gen/<i>.json`; default 10. */
  readonly count?: number;
  /** Size of each generated document; default 512. */
  readonly bodyBytes?: number;
  /** Artificial latency of generated sources: fixed, or uniform in [min, max]; default 0. */
  readonly latencyMs?: number | readonly [number, number];
  /** Fraction of generated sources whose content changes on `nextCycle()`; default 0.2. */
  readonly changeRate?: number;
  /** Fixes which generated sources change and the fault rolls; default 1. */
  readonly seed?: number;
  /** How long the slow source takes to answer its first request of a cycle; default 3000. */
  readonly slowDelayMs?: number;
  /** Requests per cycle the flaky source answers with 503 before it recovers; default 2. */
  readonly flakyFailures?: number;
  readonly faults?: DemoFaults;
  /** Source of randomness for latency and faults; default seeded from `seed`. */
  readonly random?: () => number;
}

export interface DemoStats {
  readonly cycle: number;
  readonly requests: number;
  /** Responses by status code (hung requests have none). */
  readonly statuses: Readonly<Record<string, number>>;
  readonly injectedErrors: number;
  readonly injectedHangs: number;
  /** Requests per fixed source id, and all generated sources under `generated`. */
  readonly bySource: Readonly<Record<string, number>>;
}

export interface CycleChange {
  readonly cycle: number;
  /** Ids of the sources whose content changed. */
  readonly changed: string[];
}

export interface DemoSources {
  readonly url: string;
  /** Moves to the next collection cycle: some sources get new content, the flaky one fails again. */
  nextCycle(): CycleChange;
  manifest(options?: DemoManifestOptions): DemoManifest;
  requestCount(): number;
  stats(): DemoStats;
  stop(): Promise<void>;
}

interface ContentState {
  version: number;
  /** Cycle of the last change; Last-Modified follows from it. */
  changedInCycle: number;
}

/** Last-Modified of content changed in cycle 0; each cycle is one minute later. */
const LAST_MODIFIED_BASE_MS = Date.parse('2026-06-01T00:00:00Z');
const CYCLE_MS = 60_000;
const GENERATED_PATH = /^\/gen\/(\d+)\.json$/;

function checkRate(name: string, value: number | undefined, fallback: number): number {
  const rate = value ?? fallback;
  if (!Number.isFinite(rate) || rate < 0 || rate > 1) {
    throw new DemoSourcesError(
      `${name} must be a number from 0 to 1, got ${JSON.stringify(value)}`,
    );
  }
  return rate;
}

function checkCount(name: string, value: number | undefined, fallback: number): number {
  const count = value ?? fallback;
  if (!Number.isInteger(count) || count < 0) {
    throw new DemoSourcesError(
      `${name} must be a whole number of at least 0, got ${JSON.stringify(value)}`,
    );
  }
  return count;
}

/**
 * A local HTTP server with sample sources that exercise the pipeline: a
 * paginated JSON API, a CSV export, RSS, Atom and NDJSON feeds, an HTML shop (list pages
 * and product pages), a slow source, a flaky one, a malformed one, and `count` generated
 * JSON documents. Every
 * response has an ETag and a Last-Modified and honours conditional requests.
 */
export async function startDemoSources(options: DemoSourcesOptions = {}): Promise<DemoSources> {
  const host = options.host ?? '127.0.0.1';
  const count = checkCount('count', options.count, 10);
  const bodyBytes = checkCount('bodyBytes', options.bodyBytes, 512);
  const slowDelayMs = checkCount('slowDelayMs', options.slowDelayMs, 3_000);
  const flakyFailures = checkCount('flakyFailures', options.flakyFailures, 2);
  const changeRate = checkRate('changeRate', options.changeRate, 0.2);
  const errorRate = checkRate('faults.errorRate', options.faults?.errorRate, 0);
  const hangRate = checkRate('faults.hangRate', options.faults?.hangRate, 0);
  const seed = options.seed ?? 1;
  const random = options.random ?? seededRandom(seed ^ 0x5eed);
  const [latencyMin, latencyMax] =
    typeof options.latencyMs === 'number'
      ? [options.latencyMs, options.latencyMs]
      : (options.latencyMs ?? [0, 0]);

  let cycle = 0;
  let flakyRequestsThisCycle = 0;
  let slowRequestsThisCycle = 0;
  const fixedState = new Map<string, ContentState>(
    STATIC_SOURCES.map((source) => [source.id, { version: 0, changedInCycle: 0 }]),
  );
  const generatedVersion = new Uint32Array(count);
  const generatedChangedIn = new Uint32Array(count);
  const byPath = new Map(STATIC_SOURCES.map((source) => [source.path, source]));

  let requests = 0;
  let injectedErrors = 0;
  let injectedHangs = 0;
  const statuses: Record<string, number> = {};
  const bySource: Record<string, number> = { generated: 0 };
  const timers = new Set<NodeJS.Timeout>();
  let baseUrl = '';

  const later = (delayMs: number, res: ServerResponse, then: () => void): void => {
    if (delayMs <= 0) {
      then();
      return;
    }
    const timer = setTimeout(() => {
      timers.delete(timer);
      if (!res.destroyed) then();
    }, delayMs);
    timers.add(timer);
  };

  const send = (
    req: IncomingMessage,
    res: ServerResponse,
    status: number,
    headers: Record<string, string | number>,
    body = '',
  ): void => {
    statuses[status] = (statuses[status] ?? 0) + 1;
    const withLength =
      status === 304 ? headers : { ...headers, 'content-length': Buffer.byteLength(body) };
    res.writeHead(status, withLength);
    res.end(req.method === 'HEAD' || status === 304 ? undefined : body);
  };

  const serveContent = (
    req: IncomingMessage,
    res: ServerResponse,
    body: string,
    contentType: string,
    state: ContentState,
    extraHeaders: Record<string, string> = {},
  ): void => {
    const etag = entityTag(body);
    const lastModifiedMs = LAST_MODIFIED_BASE_MS + state.changedInCycle * CYCLE_MS;
    const validators = {
      etag,
      'last-modified': new Date(lastModifiedMs).toUTCString(),
      'cache-control': 'no-cache',
    };
    if (isNotModified(req.headers, etag, lastModifiedMs)) {
      send(req, res, 304, { ...validators, ...extraHeaders });
      return;
    }
    send(req, res, 200, { 'content-type': contentType, ...validators, ...extraHeaders }, body);
  };

  const serveFixed = (
    source: StaticDemoSource,
    url: URL,
    req: IncomingMessage,
    res: ServerResponse,
  ): void => {
    bySource[source.id] = (bySource[source.id] ?? 0) + 1;
    const state = fixedState.get(source.id) ?? { version: 0, changedInCycle: 0 };
    switch (source.behaviour) {
      case 'paginated': {
        const page = Number(url.searchParams.get('page') ?? '1');
        if (!Number.isInteger(page) || page < 1 || page > API_PAGES) {
          send(req, res, 404, { 'content-type': 'application/json' }, '{"message":"no such page"}');
          return;
        }
        const next = page < API_PAGES ? `${baseUrl}${API_PATH}?page=${page + 1}` : undefined;
        const body = apiPage(page, state.version, next);
        serveContent(
          req,
          res,
          body,
          source.contentType,
          state,
          next ? { link: `<${next}>; rel="next"` } : {},
        );
        return;
      }
      case 'shop': {
        const page = Number(url.searchParams.get('page') ?? '1');
        if (!Number.isInteger(page) || page < 1 || page > SHOP_LIST_PAGES) {
          send(req, res, 404, { 'content-type': 'text/html' }, '<p>No such page</p>');
          return;
        }
        serveContent(req, res, shopListPage(page), source.contentType, state);
        return;
      }
      case 'slow':
        // A report generated on the first request of a cycle, then served from cache:
        // the first fetch outlasts a collector invocation, a continuation gets it quickly.
        slowRequestsThisCycle += 1;
        later(slowRequestsThisCycle === 1 ? slowDelayMs : 0, res, () =>
          serveContent(req, res, source.body(state.version, baseUrl), source.contentType, state),
        );
        return;
      case 'flaky':
        if (flakyRequestsThisCycle < flakyFailures) {
          flakyRequestsThisCycle += 1;
          send(
            req,
            res,
            503,
            { 'content-type': 'application/json', 'retry-after': '1' },
            '{"message":"temporarily unavailable"}',
          );
          return;
        }
        serveContent(req, res, source.body(state.version, baseUrl), source.contentType, state);
        return;
      case 'plain':
        serveContent(req, res, source.body(state.version, baseUrl), source.contentType, state);
    }
  };

  const serveGenerated = (index: number, req: IncomingMessage, res: ServerResponse): void => {
    bySource.generated = (bySource.generated ?? 0) + 1;
    const state = {
      version: generatedVersion[index] ?? 0,
      changedInCycle: generatedChangedIn[index] ?? 0,
    };
    const latency = latencyMin + Math.floor(random() * (latencyMax - latencyMin + 1));
    later(latency, res, () =>
      serveContent(
        req,
        res,
        generatedDocument(index, state.version, bodyBytes),
        'application/json',
        state,
      ),
    );
  };

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    requests += 1;
    const url = new URL(req.url ?? '/', baseUrl);
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      send(req, res, 405, { allow: 'GET, HEAD' });
      return;
    }
    if (errorRate > 0 && random() < errorRate) {
      injectedErrors += 1;
      send(
        req,
        res,
        500,
        { 'content-type': 'application/json' },
        '{"message":"injected upstream error"}',
      );
      return;
    }
    if (hangRate > 0 && random() < hangRate) {
      // Never answered: the client's timeout decides; stop() closes the socket.
      injectedHangs += 1;
      return;
    }
    const fixed = byPath.get(url.pathname);
    if (fixed) {
      serveFixed(fixed, url, req, res);
      return;
    }
    const product = SHOP_PRODUCT_PATH.exec(url.pathname);
    const productPage = product ? shopProductPage(Number(product[1])) : undefined;
    if (productPage !== undefined) {
      bySource['demo-shop'] = (bySource['demo-shop'] ?? 0) + 1;
      const state = fixedState.get('demo-shop') ?? { version: 0, changedInCycle: 0 };
      serveContent(req, res, productPage, 'text/html; charset=utf-8', state);
      return;
    }
    const generated = GENERATED_PATH.exec(url.pathname);
    const index = generated ? Number(generated[1]) : -1;
    if (index >= 0 && index < count) {
      serveGenerated(index, req, res);
      return;
    }
    if (url.pathname === '/') {
      send(req, res, 200, { 'content-type': 'application/json' }, JSON.stringify(manifest()));
      return;
    }
    send(req, res, 404, { 'content-type': 'application/json' }, '{"message":"no such source"}');
  };

  const manifest = (manifestOptions: DemoManifestOptions = {}): DemoManifest =>
    demoManifest({ baseUrl, count, slowDelayMs }, manifestOptions);

  const server: Server = createServer(handle);
  await new Promise<void>((resolve, reject) => {
    const fail = (error: NodeJS.ErrnoException) =>
      reject(
        error.code === 'EADDRINUSE' ? new PortInUseError(options.port ?? 0, '--demo-port') : error,
      );
    server.once('error', fail);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', fail);
      resolve();
    });
  });
  baseUrl = `http://${host}:${(server.address() as AddressInfo).port}`;

  return {
    url: baseUrl,
    nextCycle() {
      cycle += 1;
      flakyRequestsThisCycle = 0;
      slowRequestsThisCycle = 0;
      const changed: string[] = [];
      for (const source of STATIC_SOURCES) {
        const state = fixedState.get(source.id);
        if (!source.changesEachCycle || !state) continue;
        state.version += 1;
        state.changedInCycle = cycle;
        changed.push(source.id);
      }
      const picked = sampleIndices(
        count,
        Math.round(changeRate * count),
        seededRandom(seed * 7919 + cycle),
      );
      for (const index of picked) {
        generatedVersion[index] = (generatedVersion[index] ?? 0) + 1;
        generatedChangedIn[index] = cycle;
        changed.push(generatedSourceId(index));
      }
      return { cycle, changed };
    },
    manifest,
    requestCount: () => requests,
    stats: () => ({
      cycle,
      requests,
      statuses: { ...statuses },
      injectedErrors,
      injectedHangs,
      bySource: { ...bySource },
    }),
    stop() {
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      return new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
