import type { IncomingMessage, RequestListener, Server, ServerResponse } from 'node:http';
import { finalOutcomes } from '@fanout/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CycleResult, LocalSession } from '../../src/session.js';
import { type ShopRequest, shopListSource, shopWithProducts } from '../fixtures/shop.js';
import {
  cycleAndRead,
  removeHome,
  startE2eSession,
  startUpstream,
  stopUpstream,
  tempHome,
} from './helpers.js';

/**
 * Polite per-origin limits over a whole run: one origin limited to 2 requests at once and
 * 120 a minute, served by several collectors at once (two planned batches and the batch of
 * detail pages the list's hop starts, with their continuations), and another origin in the
 * same run with no limit. Each server counts its requests in flight and notes when each began.
 */

const TIME = new Date('2026-12-06T10:00:00Z');
const LIMIT = { concurrency: 2, perMinute: 120 };
/** Each answer takes this long, so requests overlap when nothing holds them back. */
const ANSWER_MS = 150;
const DETAILS = 20;
const A_APIS = 6;
const B_SOURCES = 12;

interface Counted {
  readonly starts: number[];
  maxInFlight: number;
}

/** `handler`, answered `ANSWER_MS` late, counting requests in flight and noting their starts. */
function counting(handler: RequestListener, counted: Counted): RequestListener {
  let inFlight = 0;
  return (req: IncomingMessage, res: ServerResponse) => {
    inFlight += 1;
    counted.starts.push(Date.now());
    counted.maxInFlight = Math.max(counted.maxInFlight, inFlight);
    res.on('close', () => {
      inFlight -= 1;
    });
    setTimeout(() => handler(req, res), ANSWER_MS);
  };
}

function apiOrShop(log: ShopRequest[]): RequestListener {
  const shop = shopWithProducts(log);
  return (req, res) => {
    if (req.url?.startsWith('/api/')) {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"items":[{"ok":true}]}');
      return;
    }
    shop(req, res);
  };
}

let home: string;
let serverA: Server;
let originA: string;
let serverB: Server;
let originB: string;
let session: LocalSession;
let result: CycleResult;
const countedA: Counted = { starts: [], maxInFlight: 0 };
const countedB: Counted = { starts: [], maxInFlight: 0 };
const shopLog: ShopRequest[] = [];
let collectorBatches = 0;

beforeAll(async () => {
  ({ server: serverA, origin: originA } = await startUpstream(
    counting(apiOrShop(shopLog), countedA),
  ));
  ({ server: serverB, origin: originB } = await startUpstream(
    counting((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"items":[{"b":1}]}');
    }, countedB),
  ));
  home = await tempHome('politeness');
  session = await startE2eSession(home, {
    // Small batches: origin A's tasks fill two of them, B's spread over the rest.
    settings: { manager: { FANOUT_MIN_TASKS_PER_BATCH: '4' } },
    manifest: {
      version: 1,
      origins: { [originA]: LIMIT },
      sources: [
        shopListSource('a-shop', originA, { options: { fields: { name: 'h1' } }, max: DETAILS }),
        ...Array.from({ length: A_APIS }, (_, i) => ({
          id: `a-api-${i}`,
          url: `${originA}/api/${i}.json`,
          format: 'json',
          options: { recordsPath: 'items' },
          allowPrivateNetwork: true,
        })),
        ...Array.from({ length: B_SOURCES }, (_, i) => ({
          id: `b-${i}`,
          url: `${originB}/b/${i}.json`,
          format: 'json',
          options: { recordsPath: 'items' },
          allowPrivateNetwork: true,
        })),
      ],
    },
  });
  const read = await cycleAndRead(session, TIME);
  result = read.result;
  collectorBatches = new Set(read.records.results.map((r) => r.batchId)).size;
  const outcomes = finalOutcomes(read.records.results);
  if ([...outcomes.values()].some((o) => o.status !== 'ok')) {
    throw new Error(`not every task was collected: ${JSON.stringify([...outcomes.values()])}`);
  }
}, 600_000);

afterAll(async () => {
  await session?.stop();
  await stopUpstream(serverA);
  await stopUpstream(serverB);
  await removeHome(home);
});

/** The most request starts in any window of `windowMs`. */
function mostInWindow(starts: readonly number[], windowMs: number): number {
  const sorted = [...starts].sort((a, b) => a - b);
  let most = 0;
  let from = 0;
  for (let to = 0; to < sorted.length; to += 1) {
    while ((sorted[to] ?? 0) - (sorted[from] ?? 0) >= windowMs) from += 1;
    most = Math.max(most, to - from + 1);
  }
  return most;
}

describe('polite per-origin limits over a whole run', () => {
  it('collects everything, with origin A served by more than one collector', () => {
    expect(result.status.complete).toBe(true);
    expect(result.status.detailTasks).toBe(DETAILS);
    // 3 list pages, the detail pages and the API documents: every request A was asked.
    expect(countedA.starts).toHaveLength(3 + 1 + DETAILS + A_APIS);
    expect(collectorBatches).toBeGreaterThan(2);
  });

  it('never has more than 2 requests in flight at origin A', () => {
    expect(countedA.maxInFlight).toBeGreaterThanOrEqual(1);
    expect(countedA.maxInFlight).toBeLessThanOrEqual(LIMIT.concurrency);
  });

  it('keeps origin A within 120 requests a minute', () => {
    // Paced at 500 ms a request over all collectors: any 10 s hold at most 20 starts, plus
    // one for each of the (at most 2) invocations sharing the limit at that moment.
    expect(mostInWindow(countedA.starts, 10_000)).toBeLessThanOrEqual(20 + LIMIT.concurrency);
    const first = Math.min(...countedA.starts);
    const last = Math.max(...countedA.starts);
    const perMinute = ((countedA.starts.length - LIMIT.concurrency) / (last - first)) * 60_000;
    expect(perMinute).toBeLessThanOrEqual(LIMIT.perMinute);
  });

  it('does not slow origin B, which has no limit', () => {
    expect(countedB.starts).toHaveLength(B_SOURCES);
    expect(countedB.maxInFlight).toBeGreaterThan(LIMIT.concurrency);
    const spanB = Math.max(...countedB.starts) - Math.min(...countedB.starts);
    const spanA = Math.max(...countedA.starts) - Math.min(...countedA.starts);
    expect(spanB).toBeLessThan(spanA / 2);
  });
});
