import type { SourceInput } from '@fanout/shared';
import {
  eventsNdjson,
  flakyStatus,
  malformedJson,
  newsRss,
  ordersCsv,
  releasesAtom,
  slowReport,
} from './content.js';
import { SHOP_LIST_PATH } from './shop.js';

/** How a fixed demo source behaves beyond serving its body. */
export type DemoBehaviour = 'plain' | 'paginated' | 'slow' | 'flaky' | 'shop';

export interface StaticDemoSource {
  readonly id: string;
  readonly path: string;
  readonly contentType: string;
  readonly behaviour: DemoBehaviour;
  /** Gets new content on every `nextCycle()`. */
  readonly changesEachCycle: boolean;
  readonly body: (version: number, baseUrl: string) => string;
  /** The manifest entry, without id and url. */
  readonly entry: Omit<SourceInput, 'id' | 'url'>;
}

export const API_PATH = '/api/items';

/** The hand-written sources; `body` of the paginated API is built per page by the server. */
export const STATIC_SOURCES: readonly StaticDemoSource[] = [
  {
    id: 'demo-api',
    path: API_PATH,
    contentType: 'application/json',
    behaviour: 'paginated',
    changesEachCycle: false,
    body: () => '',
    entry: {
      format: 'json',
      pagination: { type: 'link-header', maxPages: 10 },
      options: { recordsPath: 'data.items' },
    },
  },
  {
    id: 'demo-csv',
    path: '/export/orders.csv',
    contentType: 'text/csv; charset=utf-8',
    behaviour: 'plain',
    changesEachCycle: false,
    body: (version) => ordersCsv(version),
    entry: { format: 'csv', options: { header: true, delimiter: ',' } },
  },
  {
    id: 'demo-rss',
    path: '/feeds/news.rss',
    contentType: 'application/rss+xml; charset=utf-8',
    behaviour: 'plain',
    changesEachCycle: true,
    body: newsRss,
    entry: { format: 'rss', key: ['id'] },
  },
  {
    id: 'demo-atom',
    path: '/feeds/releases.atom',
    contentType: 'application/atom+xml; charset=utf-8',
    behaviour: 'plain',
    changesEachCycle: false,
    body: releasesAtom,
    entry: { format: 'atom', key: ['id'] },
  },
  {
    id: 'demo-ndjson',
    path: '/feeds/events.ndjson',
    contentType: 'application/x-ndjson',
    behaviour: 'plain',
    changesEachCycle: true,
    body: (version) => eventsNdjson(version),
    entry: { format: 'ndjson' },
  },
  {
    id: 'demo-slow',
    path: '/slow/report.json',
    contentType: 'application/json',
    behaviour: 'slow',
    changesEachCycle: false,
    body: (version) => slowReport(version),
    entry: { format: 'json', options: { recordsPath: 'rows' } },
  },
  {
    id: 'demo-flaky',
    path: '/flaky/status.json',
    contentType: 'application/json',
    behaviour: 'flaky',
    changesEachCycle: false,
    body: (version) => flakyStatus(version),
    entry: { format: 'json', options: { recordsPath: 'checks' } },
  },
  {
    // An HTML shop: list pages followed by their rel=next links, each product's page
    // fetched as a detail page of the run (records under `demo-shop.detail`).
    id: 'demo-shop',
    path: SHOP_LIST_PATH,
    contentType: 'text/html; charset=utf-8',
    behaviour: 'shop',
    changesEachCycle: false,
    body: () => '',
    entry: {
      format: 'html',
      options: {
        items: 'ul.products > li.product',
        fields: { sku: '@data-sku', name: 'h2 a', url: 'h2 a@href', price: '.price' },
      },
      pagination: { type: 'html-next', selector: 'a[rel=next]@href', maxPages: 5 },
      key: ['sku'],
      follow: {
        links: 'li.product h2 a@href',
        format: 'html',
        options: {
          fields: {
            sku: '.sku',
            name: 'h1',
            price: '.price',
            stock: '.stock',
            description: '.description',
          },
        },
        key: ['sku'],
        max: 50,
      },
    },
  },
  {
    id: 'demo-malformed',
    path: '/broken/data.json',
    contentType: 'application/json',
    behaviour: 'plain',
    changesEachCycle: false,
    body: () => malformedJson(),
    entry: { format: 'json', options: { recordsPath: 'items' } },
  },
];
