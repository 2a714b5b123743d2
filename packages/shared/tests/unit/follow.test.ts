import { describe, expect, it } from 'vitest';
import {
  type BatchResult,
  ContractValidationError,
  computeRunStatus,
  FOLLOW_BATCH_BASE,
  type FollowedLink,
  followBatchId,
  followRecordSource,
  followRedispatchBatchId,
  followTask,
  followTaskId,
  type HopRecordReader,
  isFollowBatchId,
  linkHash,
  mergeRunFollowState,
  pageAddress,
  parseManifest,
  type SourceState,
  splitLimit,
  walkRun,
} from '../../src/index.js';
import {
  aBatchResult,
  aManifest,
  aRunManifest,
  okOutcome,
  unchangedOutcome,
} from '../helpers/factories.js';

const shop = {
  id: 'shop',
  url: 'https://shop.example.test/list',
  format: 'html',
  options: { items: 'li.product', fields: { name: 'h2 a', url: 'h2 a@href' } },
  follow: {
    links: 'li.product h2 a@href',
    format: 'html',
    options: { fields: { name: 'h1', price: '.price' } },
  },
} as const;

function errorsOf(entry: unknown): readonly string[] {
  const { invalid } = parseManifest(aManifest([entry]));
  expect(invalid).toHaveLength(1);
  return invalid[0]?.errors ?? [];
}

function link(id: number, from = 'https://shop.example.test/list'): FollowedLink {
  const url = `https://shop.example.test/product/${id}`;
  return { id: followTaskId('shop', url), sourceId: 'shop', url, from };
}

describe('follow in the manifest', () => {
  it('accepts a follow with its defaults', () => {
    const { sources, invalid } = parseManifest(aManifest([shop]));
    expect(invalid).toEqual([]);
    expect(sources[0]?.follow).toEqual({ ...shop.follow, max: 500 });
  });

  it('names the entry and the selector of a broken link or detail selector', () => {
    expect(errorsOf({ ...shop, follow: { ...shop.follow, links: 'a[href' } })).toEqual([
      expect.stringMatching(/^sources\[0\]\.follow\.links: invalid CSS selector "a\[href": /),
    ]);
    expect(
      errorsOf({ ...shop, follow: { ...shop.follow, options: { fields: { price: '.price[' } } } }),
    ).toEqual([
      expect.stringMatching(
        /^sources\[0\]\.follow\.options\.fields\.price: invalid CSS selector "\.price\[": /,
      ),
    ]);
  });

  it('checks the follow format and its options like a source', () => {
    expect(errorsOf({ ...shop, follow: { ...shop.follow, format: 'htm' } })).toEqual([
      expect.stringMatching(/^sources\[0\]\.follow\.format: unknown format/),
    ]);
    expect(
      errorsOf({ ...shop, follow: { ...shop.follow, format: 'json', options: { items: 'li' } } }),
    ).toEqual([
      expect.stringMatching(/^sources\[0\]\.follow\.options: is not an option of the json format/),
    ]);
  });

  it('reads links from HTML pages only, and keeps ids short enough for the detail ids', () => {
    expect(
      errorsOf({ ...shop, format: 'json', options: {}, follow: shop.follow }).join('; '),
    ).toContain("sources[0].follow: reads links from HTML pages: the source's format must be html");
    expect(errorsOf({ ...shop, id: 's'.repeat(105) }).join('; ')).toContain(
      'is longer than the 104 characters a source that follows links may have',
    );
    expect(
      errorsOf({ ...shop, follow: { ...shop.follow, origins: ['https://cdn.example.test/x'] } }),
    ).toEqual([expect.stringContaining('must be an origin without a path')]);
  });

  it("refuses another source with the id of a source's detail pages", () => {
    const { sources, invalid } = parseManifest(
      aManifest([shop, { ...shop, id: 'shop.detail', follow: undefined }]),
    );
    expect(sources.map((s) => s.id)).toEqual(['shop']);
    expect(invalid[0]?.errors).toEqual([
      'sources[1].id: is the id of the detail pages of source "shop", got "shop.detail"',
    ]);
  });
});

describe('origins, robots and the User-Agent in the manifest', () => {
  it('reads the per-origin limits, by origin', () => {
    const { origins } = parseManifest({
      ...aManifest([]),
      origins: { 'https://shop.example': { concurrency: 2, perMinute: 60 } },
    });
    expect(origins).toEqual({ 'https://shop.example': { concurrency: 2, perMinute: 60 } });
  });

  it('refuses a limit that is not on an origin, or says nothing', () => {
    const parse = (origins: unknown) => () => parseManifest({ ...aManifest([]), origins });
    expect(parse({ 'https://shop.example/catalog': { concurrency: 2 } })).toThrow(
      /origins\.https:\/\/shop\.example\/catalog: must be an origin without a path/,
    );
    expect(parse({ 'shop.example': { concurrency: 2 } })).toThrow(ContractValidationError);
    expect(parse({ 'https://shop.example': {} })).toThrow(/sets neither concurrency nor perMinute/);
    expect(parse({ 'https://shop.example': { concurrency: 0 } })).toThrow(ContractValidationError);
  });

  it('accepts respectRobotsTxt and a userAgent, but not a User-Agent header as well', () => {
    const polite = { ...shop, respectRobotsTxt: true, userAgent: 'ShopWatch/1.0' };
    expect(parseManifest(aManifest([polite])).invalid).toEqual([]);
    expect(errorsOf({ ...polite, headers: { 'User-Agent': 'x' } })).toEqual([
      expect.stringContaining('sources[0].userAgent: is set twice'),
    ]);
  });
});

describe('detail ids and batches', () => {
  it('names detail tasks and their records after the source and the link', () => {
    const url = 'https://shop.example.test/product/7';
    expect(followRecordSource('shop')).toBe('shop.detail');
    expect(followTaskId('shop', url)).toBe(`shop.detail.${linkHash(url)}`);
    expect(linkHash(url)).toMatch(/^[0-9a-f]{16}$/);
  });

  it('numbers detail batches apart from planned, replayed and redispatched ones', () => {
    const ids = new Set<string>();
    for (const parent of ['b00000', 'b00001', 'b900000']) {
      for (const hop of [0, 1, 5]) {
        for (const part of [0, 1, 998]) ids.add(followBatchId(parent, hop, part));
      }
    }
    expect(ids.size).toBe(27);
    for (const id of ids) expect(isFollowBatchId(id)).toBe(true);
    expect(isFollowBatchId('b00003')).toBe(false);
    expect(isFollowBatchId('b900123')).toBe(false);
    expect(followBatchId('b00002', 1, 3)).toBe(`b${FOLLOW_BATCH_BASE + 2 * 100_000 + 1_000 + 3}`);
    const again = followRedispatchBatchId(followBatchId('b00002', 1, 3), 2, 20);
    expect(isFollowBatchId(again)).toBe(true);
    expect(ids.has(again)).toBe(false);
  });

  it('names pages by URL with their query, credential-like values left out', () => {
    expect(pageAddress('https://u:p@shop.example/list?page=2&token=abc#top')).toBe(
      'https://shop.example/list?page=2&token=REDACTED',
    );
  });

  it("builds a detail task with the follow's format and the source's credentials only at home", () => {
    const parsed = parseManifest(
      aManifest([
        {
          ...shop,
          headers: { Cookie: { secret: 'ssm:/shop/cookie' } },
          follow: { ...shop.follow, origins: ['https://cdn.example.test'] },
        },
      ]),
    ).sources[0];
    if (parsed === undefined) throw new Error('the source did not parse');
    const home = followTask(parsed, link(7), { etag: '"x"' }, 300);
    expect(home).toMatchObject({
      source: {
        id: link(7).id,
        url: link(7).url,
        format: 'html',
        options: shop.follow.options,
        headers: { Cookie: { secret: 'ssm:/shop/cookie' } },
      },
      previous: { etag: '"x"' },
      estimateMs: 300,
      link: { sourceId: 'shop', from: 'https://shop.example.test/list' },
    });
    const away = followTask(
      parsed,
      { url: 'https://cdn.example.test/p/7', from: 'x' },
      undefined,
      0,
    );
    expect(away.source.headers).toBeUndefined();
    expect(away.source.follow).toBeUndefined();
  });

  it("leaves the list's emit and cursor to the list: a detail task has neither", () => {
    const { sources, invalid } = parseManifest(
      aManifest([{ ...shop, emit: 'changes', cursor: { field: 'name', param: 'since' } }]),
    );
    expect(invalid).toEqual([]);
    const parsed = sources[0];
    if (parsed === undefined) throw new Error('the source did not parse');
    const task = followTask(parsed, link(7), undefined, 0);
    expect(task.source.emit).toBeUndefined();
    expect(task.source.cursor).toBeUndefined();
    expect(task.previousRawKeys).toBeUndefined();
    expect(task.cursor).toBeUndefined();
  });

  it('splits a limit so that the shares add up to it', () => {
    expect(splitLimit({ concurrency: 5, perMinute: 100 }, 2)).toEqual([
      { concurrency: 3, perMinute: 60 },
      { concurrency: 2, perMinute: 40 },
    ]);
    expect(splitLimit({ perMinute: 90 }, 3)).toEqual([
      { perMinute: 30 },
      { perMinute: 30 },
      { perMinute: 30 },
    ]);
  });
});

/** Hop records by `<batch>-h<hop>`. */
function reader(results: BatchResult[]): HopRecordReader {
  const byHop = new Map(results.map((r) => [`${r.batchId}-h${r.hop}`, r]));
  return {
    hop: async ({ batchId, hop }) => {
      const result = byHop.get(`${batchId}-h${hop}`);
      return result ? { kind: 'result', result } : { kind: 'none' };
    },
    redispatch: async () => undefined,
  };
}

const OPTIONS = { followRedispatches: false, maxHops: 20, concurrency: 4 };

describe('detail tasks in every reader of a run', () => {
  const manifest = aRunManifest([['shop', 'other']]);
  const detailBatch = followBatchId('b00000', 0, 0);
  const found = aBatchResult([okOutcome('shop'), okOutcome('other')], {
    continued: [link(3).id],
    followed: [
      { batchId: detailBatch, hop: 0, links: [link(1), link(2)] },
      { batchId: 'b00000', hop: 1, links: [link(3)] },
    ],
  });

  it('walks the detail batches a hop started and the tasks it handed to its continuation', async () => {
    const walk = await walkRun(manifest, reader([found]), OPTIONS);
    expect([...walk.unaccounted].sort()).toEqual([link(1).id, link(2).id, link(3).id].sort());
    expect(walk.silent).toEqual(
      expect.arrayContaining([
        { batchId: detailBatch, hop: 0, sourceIds: [link(1).id, link(2).id], planned: true },
        { batchId: 'b00000', hop: 1, sourceIds: [link(3).id], planned: true },
      ]),
    );
    expect([...walk.followed.keys()].sort()).toEqual([link(1).id, link(2).id, link(3).id].sort());

    const done = await walkRun(
      manifest,
      reader([
        found,
        aBatchResult([okOutcome(link(1).id), okOutcome(link(2).id)], { batchId: detailBatch }),
        aBatchResult([okOutcome(link(3).id)], { hop: 1 }),
      ]),
      OPTIONS,
    );
    expect(done.unaccounted).toEqual([]);
    expect(done.results).toHaveLength(3);
  });

  it('counts detail tasks in the run status: pending until each has an outcome', () => {
    const records = { manifest, failures: [], rawOutcomes: new Map() };
    const waiting = computeRunStatus(manifest.runId, { ...records, results: [found] });
    expect(waiting).toMatchObject({ complete: false, sources: 2, detailTasks: 3, pending: 3 });
    const finished = computeRunStatus(manifest.runId, {
      ...records,
      results: [
        found,
        aBatchResult([unchangedOutcome(link(1).id), unchangedOutcome(link(2).id)], {
          batchId: detailBatch,
        }),
        aBatchResult([unchangedOutcome(link(3).id)], { hop: 1 }),
      ],
    });
    expect(finished).toMatchObject({ sources: 2, detailTasks: 3, pending: 0, unchanged: 3 });
  });

  it("keeps the detail pages' validators with the source that found them, for this run's links only", () => {
    const sources: Record<string, SourceState> = {
      shop: {
        validators: {},
        durationsMs: [],
        lastRunId: manifest.runId,
        follow: { [linkHash('https://shop.example.test/product/9')]: { etag: '"old"' } },
      },
    };
    mergeRunFollowState(sources, manifest.runId, [
      found,
      aBatchResult(
        [okOutcome(link(1).id, { validators: { etag: '"one"' } }), unchangedOutcome(link(2).id)],
        { batchId: detailBatch },
      ),
    ]);
    expect(sources.shop?.follow).toEqual({
      [linkHash(link(1).url)]: { etag: '"one"' },
      [linkHash(link(2).url)]: { etag: '"abc"' },
    });
  });
});
