import type { CollectorPayload } from '@fanout/shared';
import { describe, expect, it } from 'vitest';
import { collectBatch } from '../../src/index.js';
import { testDeps } from '../helpers/deps.js';
import { readBackPack } from '../helpers/packs.js';
import { payload } from '../helpers/payloads.js';
import { fakeS3, scriptedTransport } from '../helpers/transport.js';

const SHOP = 'http://shop.test';
const PREVIOUS = 'raw/packs/dt=2026-11-25/20261125T130000Z-b00001-h0.pack.ndjson.gz';

const LIST = `<!doctype html><ul>
  <li class="p" data-at="2026-11-25T12:00:00Z"><a href="/p/1">One</a></li>
  <li class="p" data-at="2026-11-25T12:30:00Z"><a href="p/2?ref=list">Two</a></li>
</ul>`;

function detail(name: string): string {
  return `<!doctype html><h1>${name}</h1><p class="price">9.99</p>`;
}

/**
 * A list source that emits changes and reads a cursor, and follows its links: emit and the
 * cursor are the list's (its records, its query parameter); the detail pages it finds are
 * asked for conditionally on their own, with neither.
 */
describe('a source that follows links and emits changes from a cursor', () => {
  it('sends the cursor on the list request only, and gives detail pages neither emit nor cursor', async () => {
    const transport = scriptedTransport((request) => {
      const { pathname } = request.url;
      if (pathname === '/list') return { status: 200, body: LIST };
      if (pathname === '/p/1') return { status: 200, body: detail('One') };
      if (pathname === '/p/2') return { status: 200, body: detail('Two') };
      return { status: 404 };
    });
    const s3 = fakeS3();
    const deps = await testDeps({ s3, transport });
    const hop = payload(
      [
        {
          source: {
            id: 'shop',
            url: `${SHOP}/list`,
            format: 'html',
            options: { items: 'li.p', fields: { name: 'a', at: '@data-at' } },
            emit: 'changes',
            cursor: { field: 'at', param: 'since' },
            follow: { links: 'li.p a@href', format: 'html', options: { fields: { name: 'h1' } } },
          },
          previousRawKeys: [PREVIOUS],
          cursor: '"2026-11-25T11:00:00Z"',
        },
      ],
      { followSpread: { tasksPerBatch: 10, maxBatches: 2 } },
    );

    const listed = await collectBatch(hop, deps);

    expect(listed.ok).toBe(1);
    const asked = transport.requests.map((request) => request.url.href);
    expect(asked).toEqual([`${SHOP}/list?since=2026-11-25T11%3A00%3A00Z`]);
    const detailBatch = deps.invoked.find((sent) => sent.batchId !== hop.batchId);
    if (detailBatch === undefined) throw new Error('no detail batch was started');
    expect(detailBatch.tasks.map((task) => task.source.url)).toEqual([
      `${SHOP}/p/1`,
      `${SHOP}/p/2?ref=list`,
    ]);
    for (const task of detailBatch.tasks) {
      expect(task.source.emit).toBeUndefined();
      expect(task.source.cursor).toBeUndefined();
      expect(task.previousRawKeys).toBeUndefined();
      expect(task.cursor).toBeUndefined();
      expect(task.link).toEqual({
        sourceId: 'shop',
        from: `${SHOP}/list?since=2026-11-25T11%3A00%3A00Z`,
      });
    }
    const listEntry = await onlyEntry(s3, hop);
    expect(listEntry).toMatchObject({
      sourceId: 'shop',
      emit: 'changes',
      previousRawKeys: [PREVIOUS],
      cursor: { field: 'at', value: '"2026-11-25T11:00:00Z"' },
    });

    const details = await collectBatch(detailBatch, deps);

    expect(details.ok).toBe(2);
    expect(transport.requests.slice(1).map((request) => request.url.href)).toEqual([
      `${SHOP}/p/1`,
      `${SHOP}/p/2?ref=list`,
    ]);
    const { entries } = await readBackPack(packOf(s3, detailBatch));
    expect(entries).toHaveLength(2);
    for (const entry of entries) {
      expect(entry).toMatchObject({
        recordSource: 'shop.detail',
        linkedFrom: `${SHOP}/list?since=2026-11-25T11%3A00%3A00Z`,
      });
      expect(entry.emit).toBeUndefined();
      expect(entry.previousRawKeys).toBeUndefined();
      expect(entry.cursor).toBeUndefined();
    }
  });
});

function packOf(s3: ReturnType<typeof fakeS3>, hop: CollectorPayload): Buffer {
  const put = s3.puts.find(
    (p) => p.Key.startsWith('raw/packs/') && p.Key.includes(`-${hop.batchId}-h${hop.hop}.`),
  );
  if (put === undefined) throw new Error(`no pack of ${hop.batchId}`);
  return put.Body as Buffer;
}

async function onlyEntry(s3: ReturnType<typeof fakeS3>, hop: CollectorPayload) {
  const { entries } = await readBackPack(packOf(s3, hop));
  expect(entries).toHaveLength(1);
  const [entry] = entries;
  if (entry === undefined) throw new Error('empty pack');
  return entry;
}
