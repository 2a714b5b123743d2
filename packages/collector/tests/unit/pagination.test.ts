import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  collectBatch,
  type FetchProgress,
  fetchSource,
  nextFromLinkHeader,
  valueAtPath,
} from '../../src/index.js';
import type { LookupFn } from '../../src/ssrf.js';
import { testDeps } from '../helpers/deps.js';
import { payload } from '../helpers/payloads.js';
import { fakeS3, type Reply, scriptedTransport } from '../helpers/transport.js';

describe('nextFromLinkHeader', () => {
  it.each([
    ['<https://api.test/items?page=2>; rel="next"', 'https://api.test/items?page=2'],
    [
      '<https://a.test/?p=1>; rel="prev", <https://a.test/?p=3>; rel="next", <https://a.test/?p=9>; rel="last"',
      'https://a.test/?p=3',
    ],
    ['</page/2>; rel=next', '/page/2'],
    ['<https://a.test/2>; title="x"; rel="next prefetch"', 'https://a.test/2'],
    ['<https://a.test/1>; rel="prev"', undefined],
    [undefined, undefined],
  ])('%j -> %j', (header, expected) => {
    expect(nextFromLinkHeader(header)).toBe(expected);
  });
});

describe('valueAtPath', () => {
  it('walks objects and arrays by dot path', () => {
    expect(valueAtPath({ links: { next: 'u' } }, 'links.next')).toBe('u');
    expect(valueAtPath({ pages: [{ url: 'v' }] }, 'pages.0.url')).toBe('v');
    expect(valueAtPath({ links: null }, 'links.next')).toBeUndefined();
  });
});

const sha = (text: string) => createHash('sha256').update(text).digest('hex');

async function fetchPages(
  source: Record<string, unknown>,
  script: (url: URL) => Reply,
  lookup?: LookupFn,
) {
  const transport = scriptedTransport((req) => script(req.url));
  const deps = await testDeps({ transport, ...(lookup ? { lookup } : {}) });
  const progress: FetchProgress = { attempts: 0, failures: 0, pages: [] };
  const [task] = payload([
    { source: { id: 'paged', url: 'http://api.test/items', ...source } },
  ]).tasks;
  if (!task) throw new Error('no task');
  const result = await fetchSource(task, deps, new AbortController().signal, progress);
  const texts = await Promise.all(progress.pages.map((p) => p.body.text()));
  await Promise.all(progress.pages.map((p) => p.body.dispose()));
  return { result, transport, progress, texts };
}

describe('pagination', () => {
  it('follows Link rel="next" headers and numbers the pages 0..n-1', async () => {
    const { result, progress, texts, transport } = await fetchPages(
      { pagination: { type: 'link-header' } },
      (url) => {
        const page = Number(url.searchParams.get('page') ?? '1');
        return {
          status: 200,
          headers: (page < 3 ? { link: `</items?page=${page + 1}>; rel="next"` } : {}) as Record<
            string,
            string
          >,
          body: `page${page}`,
        };
      },
    );

    expect(transport.requests.map((r) => r.url.href)).toEqual([
      'http://api.test/items',
      'http://api.test/items?page=2',
      'http://api.test/items?page=3',
    ]);
    // Pages keep their URL redacted: query values may be tokens.
    expect(progress.pages.map((p) => [p.page, p.url])).toEqual([
      [0, 'http://api.test/items'],
      [1, 'http://api.test/items?page=REDACTED'],
      [2, 'http://api.test/items?page=REDACTED'],
    ]);
    expect(texts).toEqual(['page1', 'page2', 'page3']);
    // The hash that decides "unchanged" covers every page.
    expect(result).toMatchObject({ kind: 'fetched', sha256: sha('page1page2page3') });
    expect(progress.attempts).toBe(3);
  });

  it('follows a URL at a JSON path until it is null', async () => {
    const { progress } = await fetchPages(
      { pagination: { type: 'json-next', path: 'meta.next' } },
      (url) => ({
        status: 200,
        body: JSON.stringify({
          data: [url.pathname],
          meta: { next: url.pathname === '/items' ? 'http://api.test/items-2' : null },
        }),
      }),
    );

    expect(progress.pages.map((p) => p.url)).toEqual([
      'http://api.test/items',
      'http://api.test/items-2',
    ]);
  });

  it('stops at maxPages and when a page points back to one already read', async () => {
    const endless = await fetchPages(
      { pagination: { type: 'link-header', maxPages: 2 } },
      (url) => ({
        status: 200,
        headers: { link: `<${url.pathname}x>; rel="next"` },
        body: url.pathname,
      }),
    );
    expect(endless.transport.requests).toHaveLength(2);

    const loop = await fetchPages({ pagination: { type: 'link-header' } }, () => ({
      status: 200,
      headers: { link: '</items>; rel="next"' },
      body: 'same',
    }));
    expect(loop.transport.requests).toHaveLength(1);
  });

  it('fails the task when the JSON path holds something other than a URL', async () => {
    const transport = scriptedTransport(() => ({ status: 200, body: '{"next":42}' }));
    const deps = await testDeps({ s3: fakeS3(), transport });

    const summary = await collectBatch(
      payload([
        {
          source: {
            id: 'bad-next',
            url: 'http://api.test/',
            pagination: { type: 'json-next', path: 'next' },
          },
        },
      ]),
      deps,
    );

    expect(summary.result.outcomes[0]).toMatchObject({
      status: 'failed',
      reason: 'next must be a URL string or null, got number',
    });
  });
});

describe('html-next pagination', () => {
  const HTML = { format: 'html', options: { fields: { item: 'li' } } };

  const listPage = (next: string | undefined, charset = 'utf-8') =>
    `<html><head><meta charset="${charset}"></head><body><ul><li>item</li></ul>${
      next === undefined ? '' : `<a class="pager" rel="next" href="${next}">Next</a>`
    }</body></html>`;

  it('follows the first rel=next link, resolved against the page URL, until there is none', async () => {
    const { transport, progress } = await fetchPages(
      { ...HTML, pagination: { type: 'html-next', selector: 'a[rel=next]@href' } },
      (url) => {
        const page = Number(url.searchParams.get('page') ?? '1');
        return {
          status: 200,
          headers: { 'content-type': 'text/html' },
          body: listPage(page < 3 ? `items?page=${page + 1}` : undefined),
        };
      },
    );
    expect(transport.requests.map((r) => r.url.href)).toEqual([
      'http://api.test/items',
      'http://api.test/items?page=2',
      'http://api.test/items?page=3',
    ]);
    expect(progress.pages.map((p) => p.page)).toEqual([0, 1, 2]);
  });

  it('honours <base href>, maxPages and loops like the other kinds', async () => {
    const based = await fetchPages(
      { ...HTML, pagination: { type: 'html-next', selector: 'a.pager', maxPages: 2 } },
      (url) => ({
        status: 200,
        body: `<base href="http://api.test/deep/">${listPage(`${url.pathname.length}`)}`,
      }),
    );
    expect(based.transport.requests.map((r) => r.url.href)).toEqual([
      'http://api.test/items',
      'http://api.test/deep/6',
    ]);

    const loop = await fetchPages(
      { ...HTML, pagination: { type: 'html-next', selector: 'a[rel=next]' } },
      () => ({ status: 200, body: listPage('items') }),
    );
    expect(loop.transport.requests).toHaveLength(1);
  });

  it('sends no credentials to a next page on another origin, and refuses https -> http', async () => {
    const cross = await fetchPages(
      {
        ...HTML,
        headers: { 'X-Api-Key': 'k' },
        allowLiteralCredentials: true,
        pagination: { type: 'html-next', selector: 'a[rel=next]@href' },
      },
      (url) => ({
        status: 200,
        body: listPage(url.host === 'api.test' ? 'http://other.test/list' : undefined),
      }),
      // other.test is public (the source's own host is exempt from the guard).
      async () => [{ address: '93.184.216.34', family: 4 }],
    );
    expect(cross.transport.requests.map((r) => [r.url.host, r.headers['x-api-key']])).toEqual([
      ['api.test', 'k'],
      ['other.test', undefined],
    ]);

    const transport = scriptedTransport(() => ({
      status: 200,
      body: listPage('http://api.test/plain'),
    }));
    const deps = await testDeps({ s3: fakeS3(), transport });
    const summary = await collectBatch(
      payload([
        {
          source: {
            id: 'downgrade',
            url: 'https://api.test/',
            ...HTML,
            pagination: { type: 'html-next', selector: 'a[rel=next]@href' },
          },
        },
      ]),
      deps,
    );
    expect(summary.result.outcomes[0]).toMatchObject({
      status: 'failed',
      reason: 'refused next page from https to http: https://api.test/ -> http://api.test/plain',
    });
    expect(transport.requests).toHaveLength(1);
  });
});
