import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import {
  finalOutcomes,
  followedLinks,
  isFollowBatchId,
  type RunRecords,
  type TaskOutcome,
} from '@fanout/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Problem } from '../../src/commands/problems.js';
import type { CycleResult, LocalSession } from '../../src/session.js';
import {
  expectedProductRecord,
  ITEMS_PER_PAGE,
  PRODUCT_OPTIONS,
  SHOP_PAGES,
  type ShopRequest,
  shopListSource,
  shopWithProducts,
} from '../fixtures/shop.js';
import {
  cycleAndRead,
  type Envelope,
  removeHome,
  startE2eSession,
  startUpstream,
  stopUpstream,
  tempHome,
} from './helpers.js';

/**
 * Detail pages through the whole pipeline: a shop of three list pages of 20 products, each
 * product's page followed as a task of the run and spread over batches by the manager's limits;
 * and robots.txt asked before a source's pages and its detail pages are fetched.
 */

const FIRST = new Date('2026-12-06T09:00:00Z');
const SECOND = new Date('2026-12-06T09:10:00Z');
const PRODUCTS = SHOP_PAGES * ITEMS_PER_PAGE;
const BOT = 'ShopWatch/2.0 (+https://example.test/bot)';

/** A site with a robots.txt: a catalog linking pages it allows and pages it disallows. */
function robotsSite(log: { path: string; userAgent: string | undefined }[]) {
  return (req: IncomingMessage, res: ServerResponse): void => {
    const url = new URL(req.url ?? '/', 'http://robots.test');
    log.push({ path: url.pathname, userAgent: req.headers['user-agent'] });
    if (url.pathname === '/robots.txt') {
      res
        .writeHead(200, { 'content-type': 'text/plain' })
        .end(
          [
            'User-agent: *',
            'Disallow: /',
            '',
            '# our bot may read the catalog and items, not the members area',
            'User-agent: ShopWatch',
            'Disallow: /private/',
            'Disallow: /members',
            'Allow: /private/open',
            '',
          ].join('\n'),
        );
      return;
    }
    if (url.pathname === '/catalog') {
      const links = ['/items/1', '/items/2', '/private/3', '/private/open-4', '/members/5']
        .map((href) => `<li><a href="${href}">${href}</a></li>`)
        .join('');
      res.writeHead(200, { 'content-type': 'text/html' }).end(`<ul>${links}</ul>`);
      return;
    }
    res.writeHead(200, { 'content-type': 'text/html' }).end(`<h1>${url.pathname}</h1>`);
  };
}

let home: string;
let shop: Server;
let shopOrigin: string;
let site: Server;
let siteOrigin: string;
let session: LocalSession;
let first: { result: CycleResult; records: RunRecords; problems: Problem[]; envelopes: Envelope[] };
let second: { result: CycleResult; records: RunRecords; envelopes: Envelope[] };
const shopLog: ShopRequest[] = [];
let shopLogAfterFirst: ShopRequest[] = [];
const siteLog: { path: string; userAgent: string | undefined }[] = [];
let siteLogAfterFirst: { path: string; userAgent: string | undefined }[] = [];

beforeAll(async () => {
  ({ server: shop, origin: shopOrigin } = await startUpstream(shopWithProducts(shopLog)));
  ({ server: site, origin: siteOrigin } = await startUpstream(robotsSite(siteLog)));
  home = await tempHome('follow');
  session = await startE2eSession(home, {
    // Batches of at most 20 tasks: the 60 detail pages must go to more than one collector.
    settings: { manager: { FANOUT_MIN_TASKS_PER_BATCH: '20' } },
    manifest: {
      version: 1,
      sources: [
        shopListSource('shop-list', shopOrigin, { options: PRODUCT_OPTIONS }),
        {
          id: 'polite-catalog',
          url: `${siteOrigin}/catalog`,
          format: 'html',
          options: { items: 'li', fields: { href: 'a@href' } },
          follow: { links: 'a@href', format: 'html', options: { fields: { title: 'h1' } } },
          respectRobotsTxt: true,
          userAgent: BOT,
          allowPrivateNetwork: true,
        },
        {
          id: 'polite-report',
          url: `${siteOrigin}/private/report`,
          format: 'html',
          options: { fields: { title: 'h1' } },
          respectRobotsTxt: true,
          userAgent: BOT,
          allowPrivateNetwork: true,
        },
      ],
    },
  });
  first = await cycleAndRead(session, FIRST);
  shopLogAfterFirst = [...shopLog];
  siteLogAfterFirst = [...siteLog];
  second = await cycleAndRead(session, SECOND);
}, 600_000);

afterAll(async () => {
  await session?.stop();
  await stopUpstream(shop);
  await stopUpstream(site);
  await removeHome(home);
});

const detailId = (id: number) =>
  [...followedLinks(first.records.results).values()].find(
    (link) => link.url === `${shopOrigin}/shop/product/${id}`,
  )?.id;

describe('detail pages fanned out', () => {
  it('completes the run with every detail page a task of it', () => {
    expect(first.result.status.complete).toBe(true);
    // 60 products, and the five links of the robots site's catalog.
    expect(first.result.status.detailTasks).toBe(PRODUCTS + 5);
    const outcomes = finalOutcomes(first.records.results);
    for (let id = 1; id <= PRODUCTS; id += 1) {
      const taskId = detailId(id);
      expect(taskId).toMatch(/^shop-list\.detail\.[0-9a-f]{16}$/);
      expect(outcomes.get(taskId ?? '')?.status).toBe('ok');
    }
    expect(outcomes.get('shop-list')).toMatchObject({
      status: 'ok',
      links: { found: PRODUCTS, followed: PRODUCTS },
    });
  });

  it('gives 60 detail records equal to the product pages field for field, each linked to its list page', () => {
    const details = first.envelopes.filter((e) => e.source === 'shop-list.detail');
    expect(details).toHaveLength(PRODUCTS);
    for (let id = 1; id <= PRODUCTS; id += 1) {
      const page = Math.ceil(id / ITEMS_PER_PAGE);
      const record = details.find((e) => e.url === `${shopOrigin}/shop/product/${id}`);
      expect(record?.record).toEqual(expectedProductRecord(id, shopOrigin));
      expect(record?.linkedFrom).toBe(`${shopOrigin}/shop/catalog/list?page=${page}`);
      expect(record?.run).toBe(first.result.runId);
    }
    // The list records are there too, under the source's own id.
    expect(first.envelopes.filter((e) => e.source === 'shop-list')).toHaveLength(PRODUCTS);
  });

  it('spreads the detail pages over more than one collector invocation', () => {
    const batchesWithDetails = new Set(
      first.records.results
        .filter((result) => result.outcomes.some((o) => o.sourceId.startsWith('shop-list.detail')))
        .map((result) => result.batchId),
    );
    expect(batchesWithDetails.size).toBeGreaterThan(1);
    for (const batchId of batchesWithDetails) expect(isFollowBatchId(batchId)).toBe(true);
    // The hop that found them recorded every one before starting their batches.
    const recorded = first.records.results.flatMap((result) => result.followed ?? []);
    expect(recorded.map((batch) => batch.batchId).sort()).toEqual(
      expect.arrayContaining([...batchesWithDetails].sort()),
    );
  });

  it('fetches no detail page twice', () => {
    for (let id = 1; id <= PRODUCTS; id += 1) {
      const asked = shopLogAfterFirst.filter((r) => r.path === `/shop/product/${id}`);
      expect(asked, `product ${id}`).toHaveLength(1);
    }
  });

  it('asks the next cycle for each detail page conditionally: 304, nothing stored again', () => {
    expect(second.result.status.complete).toBe(true);
    const asked = shopLog.slice(shopLogAfterFirst.length);
    const products = asked.filter((r) => r.path.startsWith('/shop/product/'));
    expect(products).toHaveLength(PRODUCTS);
    expect(new Set(products.map((r) => r.path)).size).toBe(PRODUCTS);
    expect(products.every((r) => r.conditional && r.status === 304)).toBe(true);
    // The list pages are asked for in full (their links are read every run) and are unchanged.
    const outcomes = finalOutcomes(second.records.results);
    expect(outcomes.get('shop-list')?.status).toBe('unchanged');
    const details = [...outcomes.values()].filter((o: TaskOutcome) =>
      o.sourceId.startsWith('shop-list.detail'),
    );
    expect(details).toHaveLength(PRODUCTS);
    expect(details.every((o) => o.status === 'unchanged')).toBe(true);
    expect(second.envelopes.filter((e) => e.source.startsWith('shop-list'))).toEqual([]);
  });
});

describe('robots.txt', () => {
  it('never requests a path it disallows, and asks for robots.txt once per run', () => {
    const paths = siteLogAfterFirst.map((r) => r.path);
    expect(paths.filter((path) => path === '/robots.txt')).toHaveLength(1);
    expect(paths).not.toContain('/private/3');
    expect(paths).not.toContain('/members/5');
    expect(paths).not.toContain('/private/report');
    expect(paths).toEqual(
      expect.arrayContaining(['/catalog', '/items/1', '/items/2', '/private/open-4']),
    );
    // Every request says who is asking: the source's User-Agent.
    expect(new Set(siteLog.map((r) => r.userAgent))).toEqual(new Set([BOT]));
    expect(
      siteLog.slice(siteLogAfterFirst.length).filter((r) => r.path === '/robots.txt'),
    ).toHaveLength(1);
  });

  it('reports each disallowed URL as a failure with its reason', () => {
    const reasons = new Map(
      first.problems.filter((p) => p.kind === 'failed').map((p) => [p.sourceId, p.reason]),
    );
    expect(reasons.get('polite-report')).toBe(
      `${siteOrigin}/robots.txt disallows ${siteOrigin}/private/report for user agent "ShopWatch" (line 6); not fetched`,
    );
    const linkOf = (path: string) =>
      [...followedLinks(first.records.results).values()].find(
        (link) => link.url === `${siteOrigin}${path}`,
      );
    expect(reasons.get(linkOf('/private/3')?.id ?? '')).toContain(
      `disallows ${siteOrigin}/private/3 for user agent "ShopWatch" (line 6); not fetched`,
    );
    expect(reasons.get(linkOf('/members/5')?.id ?? '')).toContain('(line 7); not fetched');
    const outcomes = finalOutcomes(first.records.results);
    expect(outcomes.get('polite-report')).toMatchObject({
      status: 'failed',
      attempts: 0,
      permanent: true,
    });
    expect(outcomes.get(linkOf('/private/open-4')?.id ?? '')?.status).toBe('ok');
    expect(first.result.status.failed).toBe(3);
  });
});
