import { gzipSync } from 'node:zlib';
import { parseManifest } from '@fanout/shared';
import { afterEach, describe, expect, it } from 'vitest';
import { generatedDocument } from '../../src/demo/content.js';
import {
  type DemoSources,
  type DemoSourcesOptions,
  startDemoSources,
} from '../../src/demo/index.js';

const running: DemoSources[] = [];

afterEach(async () => {
  await Promise.all(running.splice(0).map((demo) => demo.stop()));
});

async function start(options: DemoSourcesOptions = {}): Promise<DemoSources> {
  const demo = await startDemoSources({ slowDelayMs: 50, ...options });
  running.push(demo);
  return demo;
}

function urlOf(demo: DemoSources, id: string): string {
  const source = demo.manifest().sources.find((entry) => entry.id === id);
  if (!source) throw new Error(`no source ${id}`);
  return source.url;
}

describe('demo manifest', () => {
  it('validates with zero invalid entries and points at this server', async () => {
    const demo = await start({ count: 25, slowDelayMs: 20_000 });

    const { sources, invalid } = parseManifest(demo.manifest());

    expect(invalid).toEqual([]);
    expect(sources).toHaveLength(9 + 25);
    expect(new Set(sources.map((source) => source.format))).toEqual(
      new Set(['json', 'csv', 'rss', 'atom', 'ndjson', 'html']),
    );
    for (const source of sources) {
      expect(source.url.startsWith(`${demo.url}/`)).toBe(true);
      expect(source.allowPrivateNetwork).toBe(true);
    }
    const api = sources.find((source) => source.id === 'demo-api');
    expect(api?.pagination).toEqual({ type: 'link-header', maxPages: 10 });
    expect(api?.options.recordsPath).toBe('data.items');
    // The slow source must outlast its delay per request, so only the collector's budget cuts it.
    expect(sources.find((source) => source.id === 'demo-slow')?.timeoutMs).toBe(25_000);
  });

  it('can leave out the fixed or the generated sources', async () => {
    const demo = await start({ count: 3 });

    expect(demo.manifest({ fixed: false }).sources.map((source) => source.id)).toEqual([
      'gen-00000',
      'gen-00001',
      'gen-00002',
    ]);
    expect(demo.manifest({ generated: false }).sources).toHaveLength(9);
  });
});

describe('demo endpoints', () => {
  it('pages the JSON API with Link rel="next" headers', async () => {
    const demo = await start();
    const ids: number[] = [];
    const links: (string | null)[] = [];

    let next: string | undefined = urlOf(demo, 'demo-api');
    while (next) {
      const response: Response = await fetch(next);
      const body = (await response.json()) as { data: { items: { id: number }[] } };
      ids.push(...body.data.items.map((item) => item.id));
      const link = response.headers.get('link');
      links.push(link);
      next = link ? /^<([^>]+)>; rel="next"$/.exec(link)?.[1] : undefined;
    }

    expect(links).toEqual([
      `<${demo.url}/api/items?page=2>; rel="next"`,
      `<${demo.url}/api/items?page=3>; rel="next"`,
      null,
    ]);
    expect(ids).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
  });

  it('serves CSV, RSS 2.0, Atom, NDJSON and a broken JSON body with their content types', async () => {
    const demo = await start();
    const get = async (id: string) => {
      const response = await fetch(urlOf(demo, id));
      return { type: response.headers.get('content-type'), text: await response.text() };
    };

    const csv = await get('demo-csv');
    const rss = await get('demo-rss');
    const atom = await get('demo-atom');
    const ndjson = await get('demo-ndjson');
    const broken = await get('demo-malformed');

    expect(csv.type).toMatch(/^text\/csv/);
    const rows = csv.text.trimEnd().split('\n');
    expect(rows[0]).toBe('id,customer,amount,currency,created_at');
    expect(rows).toHaveLength(21);
    expect(csv.text).toContain('"Smith, Jane"');
    expect(rss.type).toMatch(/^application\/rss\+xml/);
    expect(rss.text).toContain('<rss version="2.0"><channel>');
    expect(rss.text.match(/<item>/g)).toHaveLength(5);
    expect(rss.text).toContain('markets &amp; more');
    expect(atom.type).toMatch(/^application\/atom\+xml/);
    expect(atom.text).toContain('<feed xmlns="http://www.w3.org/2005/Atom">');
    expect(atom.text.match(/<entry>/g)).toHaveLength(3);
    expect(ndjson.type).toBe('application/x-ndjson');
    const events = ndjson.text
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line));
    expect(events).toHaveLength(10);
    expect(events[0]).toMatchObject({ id: 'evt-1' });
    expect(broken.type).toBe('application/json');
    expect(() => JSON.parse(broken.text)).toThrow(SyntaxError);
  });

  it('serves generated documents of the configured size', async () => {
    const demo = await start({ count: 3, bodyBytes: 700 });

    const response = await fetch(`${demo.url}/gen/2.json`);
    const text = await response.text();
    const missing = await fetch(`${demo.url}/gen/3.json`);

    expect(response.status).toBe(200);
    expect(Buffer.byteLength(text)).toBe(700);
    const document = JSON.parse(text) as { id: string; version: number; items: { n: number }[] };
    expect(document).toMatchObject({ id: 'gen-00002', version: 0 });
    expect(document.items.map((item) => item.n)).toEqual(
      Array.from({ length: document.items.length }, (_, i) => i + 1),
    );
    expect(document.items.length).toBeGreaterThanOrEqual(2);
    expect(missing.status).toBe(404);
  });

  it('fills generated documents with records that compress like real API responses', () => {
    // Act
    const body = generatedDocument(7, 3, 50 * 1024);
    const ratio = body.length / gzipSync(body).length;

    // Assess: several times smaller, far from the thousandfold of repeated padding.
    expect(Buffer.byteLength(body)).toBe(50 * 1024);
    expect(ratio).toBeGreaterThan(2);
    expect(ratio).toBeLessThan(12);
    expect(generatedDocument(7, 3, 50 * 1024)).toBe(body);
    expect(generatedDocument(7, 4, 50 * 1024)).not.toBe(body);
  });

  it('answers the flaky source with 503 and Retry-After for the first requests of each cycle', async () => {
    const demo = await start({ flakyFailures: 2 });
    const url = urlOf(demo, 'demo-flaky');
    const statuses = async (n: number) => {
      const seen: (number | string | null)[] = [];
      for (let i = 0; i < n; i += 1) {
        const response = await fetch(url);
        await response.arrayBuffer();
        seen.push(response.status, response.headers.get('retry-after'));
      }
      return seen;
    };

    const first = await statuses(3);
    demo.nextCycle();
    const second = await statuses(3);

    expect(first).toEqual([503, '1', 503, '1', 200, null]);
    expect(second).toEqual(first);
  });

  it('answers the slow source only after its delay', async () => {
    const demo = await start({ slowDelayMs: 1_500 });
    const url = urlOf(demo, 'demo-slow');

    const impatient = fetch(url, { signal: AbortSignal.timeout(100) });
    await expect(impatient).rejects.toMatchObject({ name: 'TimeoutError' });
    const patient = await fetch(url);

    expect(patient.status).toBe(200);
    expect((await patient.json()) as unknown).toMatchObject({ rows: expect.any(Array) });
  });
});

describe('artificial latency', () => {
  it('delays generated sources only', async () => {
    const demo = await start({ count: 1, latencyMs: [3_000, 3_000] });

    const generated = fetch(`${demo.url}/gen/0.json`, { signal: AbortSignal.timeout(200) });
    await expect(generated).rejects.toMatchObject({ name: 'TimeoutError' });
    const fixed = await fetch(urlOf(demo, 'demo-csv'), { signal: AbortSignal.timeout(2_000) });

    expect(fixed.status).toBe(200);
  });
});

describe('conditional requests', () => {
  it('answers 304 on a matching If-None-Match or If-Modified-Since, for every source', async () => {
    const demo = await start({ count: 2, flakyFailures: 0 });
    const urls = [
      ...demo.manifest().sources.map((source) => source.url),
      `${demo.url}/api/items?page=3`,
    ];

    for (const url of urls) {
      const first = await fetch(url);
      await first.arrayBuffer();
      const etag = first.headers.get('etag') ?? '';
      const lastModified = first.headers.get('last-modified') ?? '';
      const byTag = await fetch(url, { headers: { 'if-none-match': etag } });
      const byDate = await fetch(url, { headers: { 'if-modified-since': lastModified } });
      const otherTag = await fetch(url, { headers: { 'if-none-match': '"something-else"' } });
      await otherTag.arrayBuffer();

      expect(first.status, url).toBe(200);
      expect(etag, url).toMatch(/^"[\w-]+"$/);
      expect(Number.isNaN(Date.parse(lastModified)), url).toBe(false);
      expect([byTag.status, byDate.status, otherTag.status], url).toEqual([304, 304, 200]);
      expect(byTag.headers.get('etag'), url).toBe(etag);
    }
  });

  it('changes the feeds and the configured share of generated sources on nextCycle, by seed', async () => {
    const demo = await start({ count: 100, changeRate: 0.2, seed: 42 });
    const twin = await start({ count: 100, changeRate: 0.2, seed: 42 });
    const other = await start({ count: 100, changeRate: 0.2, seed: 43 });
    const validators = new Map<string, string>();
    for (const source of demo.manifest({ fixed: false }).sources) {
      const response = await fetch(source.url);
      await response.arrayBuffer();
      validators.set(source.id, response.headers.get('etag') ?? '');
    }

    const change = demo.nextCycle();
    const changedGenerated = change.changed.filter((id) => id.startsWith('gen-'));
    const refetched: Record<string, number> = {};
    for (const source of demo.manifest({ fixed: false }).sources) {
      const response = await fetch(source.url, {
        headers: { 'if-none-match': validators.get(source.id) ?? '' },
      });
      await response.arrayBuffer();
      refetched[source.id] = response.status;
    }

    expect(change.cycle).toBe(1);
    expect(change.changed.filter((id) => !id.startsWith('gen-'))).toEqual([
      'demo-rss',
      'demo-ndjson',
    ]);
    expect(changedGenerated).toHaveLength(20);
    expect(Object.keys(refetched).filter((id) => refetched[id] === 200)).toEqual(changedGenerated);
    expect(Object.values(refetched).filter((status) => status === 304)).toHaveLength(80);
    expect(twin.nextCycle().changed).toEqual(change.changed);
    expect(other.nextCycle().changed).not.toEqual(change.changed);
  });

  it('keeps Last-Modified for unchanged sources and moves it for changed ones', async () => {
    const demo = await start({ count: 0 });
    const lastModified = async (id: string) => {
      const response = await fetch(urlOf(demo, id));
      await response.arrayBuffer();
      return response.headers.get('last-modified') ?? '';
    };
    const before = { rss: await lastModified('demo-rss'), csv: await lastModified('demo-csv') };

    demo.nextCycle();
    const rss = await fetch(urlOf(demo, 'demo-rss'), {
      headers: { 'if-modified-since': before.rss },
    });
    const csv = await fetch(urlOf(demo, 'demo-csv'), {
      headers: { 'if-modified-since': before.csv },
    });

    expect(rss.status).toBe(200);
    expect((await rss.text()).match(/<item>/g)).toHaveLength(6);
    expect(Date.parse(rss.headers.get('last-modified') ?? '')).toBeGreaterThan(
      Date.parse(before.rss),
    );
    expect(csv.status).toBe(304);
  });
});

describe('upstream faults', () => {
  it('answers 500 at the error rate and counts requests', async () => {
    const rolls = [0.01, 0.99];
    const demo = await start({ faults: { errorRate: 0.5 }, random: () => rolls.shift() ?? 0.99 });

    const failed = await fetch(urlOf(demo, 'demo-csv'));
    await failed.arrayBuffer();
    const served = await fetch(urlOf(demo, 'demo-csv'));
    await served.arrayBuffer();

    expect([failed.status, served.status]).toEqual([500, 200]);
    expect(demo.requestCount()).toBe(2);
    expect(demo.stats()).toMatchObject({
      requests: 2,
      injectedErrors: 1,
      statuses: { 500: 1, 200: 1 },
      bySource: { 'demo-csv': 1 },
    });
  });

  it('leaves requests unanswered at the hang rate until the client gives up', async () => {
    const demo = await start({ faults: { hangRate: 1 } });

    const hung = fetch(`${demo.url}/gen/0.json`, { signal: AbortSignal.timeout(200) });

    await expect(hung).rejects.toMatchObject({ name: 'TimeoutError' });
    expect(demo.stats()).toMatchObject({ injectedHangs: 1, statuses: {} });
  });

  it('rejects settings out of range with the setting named', async () => {
    await expect(startDemoSources({ changeRate: 1.5 })).rejects.toThrow(
      'changeRate must be a number from 0 to 1, got 1.5',
    );
    await expect(startDemoSources({ count: -1 })).rejects.toThrow(
      'count must be a whole number of at least 0, got -1',
    );
  });
});
