import type { Server } from 'node:http';
import { finalOutcomes, type RunRecords } from '@fanout/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Problem } from '../../src/commands/problems.js';
import type { CycleResult, LocalSession } from '../../src/session.js';
import {
  expectedShopRecords,
  LEGACY_ITEMS,
  LEGACY_OPTIONS,
  SHOP_OPTIONS,
  SHOP_PAGES,
  shopHandler,
} from '../fixtures/shop.js';
import {
  cycleAndRead,
  type Envelope,
  startE2eSession,
  startUpstream,
  stopE2e,
  tempHome,
} from './helpers.js';

const TIME = new Date('2026-12-06T08:00:00Z');

let home: string;
let upstream: Server;
let origin: string;
let session: LocalSession;
let result: CycleResult;
let records: RunRecords;
let problems: Problem[];
let envelopes: Envelope[];
const requests: string[] = [];

beforeAll(async () => {
  ({ server: upstream, origin } = await startUpstream(shopHandler(requests)));
  home = await tempHome('scrape');
  session = await startE2eSession(home, {
    manifest: {
      version: 1,
      sources: [
        {
          id: 'shop-list',
          url: `${origin}/shop/start`,
          format: 'html',
          options: SHOP_OPTIONS,
          pagination: { type: 'html-next', selector: 'a[rel=next]@href' },
          allowPrivateNetwork: true,
        },
        {
          id: 'legacy-offers',
          url: `${origin}/legacy/offers`,
          format: 'html',
          options: LEGACY_OPTIONS,
          allowPrivateNetwork: true,
        },
        {
          id: 'shop-broken',
          url: `${origin}/shop/broken`,
          format: 'html',
          options: { items: 'li.product', fields: { price: '.price[' } },
          allowPrivateNetwork: true,
        },
      ],
    },
  });
  ({ result, records, problems, envelopes } = await cycleAndRead(session, TIME));
}, 300_000);

afterAll(() => stopE2e(session, upstream, home));

const recordsOf = (source: string, page?: number) =>
  envelopes
    .filter((e) => e.source === source && (page === undefined || e.page === page))
    .map((e) => e.record);

describe('HTML pages through the whole pipeline', () => {
  it('completes the run: two sources collected, the broken one rejected up front', () => {
    expect(result.status.complete).toBe(true);
    const outcomes = finalOutcomes(records.results);
    expect(outcomes.get('shop-list')?.status).toBe('ok');
    expect(outcomes.get('legacy-offers')?.status).toBe('ok');
    expect(outcomes.has('shop-broken')).toBe(false);
  });

  it('follows the three list pages by their rel=next links, after the redirect', () => {
    expect(requests.filter((path) => path.startsWith('/shop/'))).toEqual([
      '/shop/start',
      '/shop/catalog/list?page=1',
      '/shop/catalog/list?page=2',
      '/shop/catalog/list?page=3',
    ]);
    expect(new Set(envelopes.filter((e) => e.source === 'shop-list').map((e) => e.page))).toEqual(
      new Set([0, 1, 2]),
    );
  });

  it('gives records equal to the shop items field for field, URLs resolved against the final URL', () => {
    for (let page = 1; page <= SHOP_PAGES; page += 1) {
      expect(recordsOf('shop-list', page - 1)).toEqual(expectedShopRecords(page, origin));
    }
    expect(recordsOf('shop-list')).toHaveLength(60);
  });

  it('decodes a page by its <meta> charset (windows-1252)', () => {
    expect(recordsOf('legacy-offers')).toEqual(LEGACY_ITEMS.map((item) => ({ ...item })));
  });

  it('reports the broken selector, naming the entry and the selector, and never fetches it', () => {
    expect(requests).not.toContain('/shop/broken');
    const invalid = records.manifest?.invalidSources ?? [];
    expect(invalid).toHaveLength(1);
    expect(invalid[0]).toMatchObject({ id: 'shop-broken' });
    const problem = problems.find((p) => p.sourceId === 'shop-broken');
    expect(problem?.kind).toBe('failed');
    expect(problem?.reason).toContain(
      'sources[2].options.fields.price: invalid CSS selector ".price[": Expected name, found',
    );
  });
});
