import { createHash } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import {
  type BatchResult,
  BatchResultSchema,
  batchResultKey,
  fromS3Metadata,
  rawKey,
} from '@fanout/shared';
import { startTestHttp, startTestS3, type TestHttpServer, type TestS3 } from '@fanout/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collectBatch } from '../../src/index.js';
import { testDeps } from '../helpers/deps.js';
import { payload, RUN_ID, SCHEDULED_AT } from '../helpers/payloads.js';

const BIG_BYTES = 12 * 1024 * 1024;
/** Deterministic, non-repeating-looking bytes, so a misplaced part cannot pass. */
function bigBody(): Buffer {
  const out = Buffer.alloc(BIG_BYTES);
  let x = 2463534242;
  for (let i = 0; i < out.length; i += 1) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

const JSON_BODY = JSON.stringify({ items: [{ id: 1 }, { id: 2 }] });
const CSV_BODY = 'id,name\n1,a\n2,b\n';
const sha = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');

describe('collector against s3rver and a local HTTP server', () => {
  let s3: TestS3;
  let http: TestHttpServer;
  const big = bigBody();

  beforeAll(async () => {
    s3 = await startTestS3();
    http = await startTestHttp((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      switch (url.pathname) {
        case '/items.json':
          res.writeHead(200, {
            'content-type': 'application/json',
            etag: '"v1"',
            'last-modified': 'Wed, 25 Nov 2026 12:00:00 GMT',
          });
          res.end(JSON_BODY);
          return;
        case '/table.csv':
          res.writeHead(200, { 'content-type': 'text/csv' });
          res.end(CSV_BODY);
          return;
        case '/big.ndjson': {
          res.writeHead(200, { 'content-type': 'application/x-ndjson' });
          // Written in slices so the collector sees a real stream.
          let offset = 0;
          const pump = () => {
            while (offset < big.length) {
              const slice = big.subarray(offset, offset + 256 * 1024);
              offset += slice.length;
              if (!res.write(slice)) {
                res.once('drain', pump);
                return;
              }
            }
            res.end();
          };
          pump();
          return;
        }
        case '/paged': {
          const page = Number(url.searchParams.get('page') ?? '1');
          res.writeHead(200, {
            'content-type': 'application/rss+xml',
            ...(page < 2 ? { link: '</paged?page=2>; rel="next"' } : {}),
          });
          res.end(`<rss><channel><item>${page}</item></channel></rss>`);
          return;
        }
        case '/conditional.json':
          if (req.headers['if-none-match'] === '"same"') {
            res.writeHead(304, { etag: '"same"' });
            res.end();
            return;
          }
          res.writeHead(200, { etag: '"same"' });
          res.end('{}');
          return;
        default:
          res.writeHead(404);
          res.end();
      }
    });
  });

  afterAll(async () => {
    await http.stop();
    await s3.stop();
  });

  it('stores each source at its raw key with metadata and writes one batch result', async () => {
    // Prepare
    const deps = await testDeps({ s3: s3.client, bucket: s3.bucket });
    const input = payload([
      { source: { id: 'items', url: `${http.url}/items.json`, options: { recordsPath: 'items' } } },
      { source: { id: 'table', url: `${http.url}/table.csv`, format: 'csv' } },
      { source: { id: 'missing', url: `${http.url}/nope` } },
    ]);

    // Act
    const summary = await collectBatch(input, deps);

    // Assess
    const itemsKey = rawKey({
      sourceId: 'items',
      runId: RUN_ID,
      scheduledAt: SCHEDULED_AT,
      page: 0,
      extension: 'json',
    });
    const tableKey = rawKey({
      sourceId: 'table',
      runId: RUN_ID,
      scheduledAt: SCHEDULED_AT,
      page: 0,
      extension: 'csv',
    });
    expect(itemsKey).toBe('raw/source=items/dt=2026-11-25/20261125T131000Z-p0000.json');
    expect(await s3.listKeys('raw/')).toEqual([itemsKey, tableKey]);
    expect((await s3.getBytes(itemsKey)).toString()).toBe(JSON_BODY);
    expect((await s3.getBytes(tableKey)).toString()).toBe(CSV_BODY);

    const head = await s3.head(itemsKey);
    const meta = fromS3Metadata(head?.metadata);
    expect(meta).toMatchObject({
      runId: RUN_ID,
      sourceId: 'items',
      batchId: 'b00001',
      format: 'json',
      formatOptions: { recordsPath: 'items' },
      contentType: 'application/json',
      scheduledAt: SCHEDULED_AT,
      sha256: sha(JSON_BODY),
      httpStatus: 200,
      page: 0,
    });
    expect(Number.isNaN(Date.parse(meta.fetchedAt))).toBe(false);

    const result = BatchResultSchema.parse(
      await s3.getJson<BatchResult>(batchResultKey(RUN_ID, 'b00001', 0)),
    );
    expect(summary.resultKey).toBe('runs/20261125T131000Z/results/b00001-h0.json');
    expect(result.continued).toEqual([]);
    const bySource = Object.fromEntries(result.outcomes.map((o) => [o.sourceId, o]));
    expect(bySource.items).toMatchObject({
      status: 'ok',
      attempts: 1,
      bytes: JSON_BODY.length,
      rawKeys: [itemsKey],
      validators: {
        etag: '"v1"',
        lastModified: 'Wed, 25 Nov 2026 12:00:00 GMT',
        sha256: sha(JSON_BODY),
      },
    });
    expect(bySource.table).toMatchObject({ status: 'ok', rawKeys: [tableKey] });
    expect(bySource.missing).toMatchObject({ status: 'failed', httpStatus: 404, attempts: 1 });
    expect(summary).toMatchObject({ ok: 2, failed: 1, unchanged: 0, continued: 0 });
  });

  it('spools a body larger than the memory buffer and uploads it byte for byte in parts', async () => {
    // Prepare
    const deps = await testDeps({
      s3: s3.client,
      bucket: s3.bucket,
      settings: { memoryBufferBytes: 1024 * 1024 },
    });
    const commands: string[] = [];
    s3.client.middlewareStack.add(
      (next, context) => async (args) => {
        commands.push(context.commandName ?? '');
        return next(args);
      },
      { step: 'initialize', name: 'recordCommands' },
    );
    const input = payload(
      [{ source: { id: 'big', url: `${http.url}/big.ndjson`, format: 'ndjson' } }],
      { batchId: 'b00002' },
    );

    // Act
    const summary = await collectBatch(input, deps);

    // Assess
    const key = rawKey({
      sourceId: 'big',
      runId: RUN_ID,
      scheduledAt: SCHEDULED_AT,
      page: 0,
      extension: 'ndjson',
    });
    const stored = await s3.getBytes(key);
    expect(stored.length).toBe(BIG_BYTES);
    expect(stored.equals(big)).toBe(true);
    expect(fromS3Metadata((await s3.head(key))?.metadata).sha256).toBe(sha(big));
    expect(summary.bytesStored).toBe(BIG_BYTES);
    // 12 MB in 5 MB parts: a multipart upload of 3 parts, not one PutObject.
    expect(commands.filter((c) => c !== 'HeadObjectCommand' && c !== 'GetObjectCommand')).toEqual([
      'CreateMultipartUploadCommand',
      'UploadPartCommand',
      'UploadPartCommand',
      'UploadPartCommand',
      'CompleteMultipartUploadCommand',
      'PutObjectCommand', // the batch result
    ]);
    const storedLog = deps.log.entries.find((e) => e.message === 'stored raw object');
    expect(storedLog?.extra[0]).toMatchObject({ key, spooled: true, bytes: BIG_BYTES });
    // The spool file is gone.
    expect(await readdir(deps.tmpDir)).toEqual([]);
    s3.client.middlewareStack.remove('recordCommands');
  });

  it('writes no raw object when the upstream answers 304 to the stored validators', async () => {
    // Prepare
    const deps = await testDeps({ s3: s3.client, bucket: s3.bucket });
    const input = payload(
      [
        {
          source: { id: 'cond', url: `${http.url}/conditional.json` },
          previous: { etag: '"same"' },
        },
      ],
      { batchId: 'b00003' },
    );
    const before = http.requests.length;

    // Act
    const summary = await collectBatch(input, deps);

    // Assess
    expect(http.requests[before]?.headers['if-none-match']).toBe('"same"');
    expect(await s3.listKeys('raw/source=cond/')).toEqual([]);
    expect(summary.result.outcomes).toEqual([
      expect.objectContaining({
        status: 'unchanged',
        httpStatus: 304,
        validators: { etag: '"same"' },
      }),
    ]);
  });

  it('leaves exactly the same keys when the same payload is delivered twice', async () => {
    // Prepare
    const input = payload(
      [
        { source: { id: 'dup-a', url: `${http.url}/items.json` } },
        { source: { id: 'dup-b', url: `${http.url}/table.csv`, format: 'csv' } },
      ],
      { batchId: 'b00004' },
    );
    const runKeys = async () =>
      [...(await s3.listKeys('raw/source=dup-')), ...(await s3.listKeys('runs/'))].filter(
        (k) => k.includes('dup-') || k.includes('b00004'),
      );

    // Act
    await collectBatch(input, await testDeps({ s3: s3.client, bucket: s3.bucket }));
    const first = await runKeys();
    await collectBatch(input, await testDeps({ s3: s3.client, bucket: s3.bucket }));
    const second = await runKeys();

    // Assess
    expect(first).toEqual([
      'raw/source=dup-a/dt=2026-11-25/20261125T131000Z-p0000.json',
      'raw/source=dup-b/dt=2026-11-25/20261125T131000Z-p0000.csv',
      'runs/20261125T131000Z/results/b00004-h0.json',
    ]);
    expect(second).toEqual(first);
  });

  it('stores one raw object per page and stores a body whose hash changed', async () => {
    // Prepare
    const deps = await testDeps({ s3: s3.client, bucket: s3.bucket });
    const input = payload(
      [
        {
          source: {
            id: 'feed',
            url: `${http.url}/paged`,
            format: 'rss',
            pagination: { type: 'link-header' },
          },
          previous: { sha256: 'f'.repeat(64) },
        },
      ],
      { batchId: 'b00005' },
    );

    // Act
    const summary = await collectBatch(input, deps);

    // Assess
    const keys = [0, 1].map((page) =>
      rawKey({
        sourceId: 'feed',
        runId: RUN_ID,
        scheduledAt: SCHEDULED_AT,
        page,
        extension: 'xml',
      }),
    );
    expect(await s3.listKeys('raw/source=feed/')).toEqual(keys);
    const pages = [
      '<rss><channel><item>1</item></channel></rss>',
      '<rss><channel><item>2</item></channel></rss>',
    ];
    expect((await s3.getBytes(keys[1] ?? '')).toString()).toBe(pages[1]);
    const second = fromS3Metadata((await s3.head(keys[1] ?? ''))?.metadata);
    expect(second).toMatchObject({
      page: 1,
      sha256: sha(pages[1] ?? ''),
      contentType: 'application/rss+xml',
    });
    expect(summary.result.outcomes[0]).toMatchObject({
      status: 'ok',
      rawKeys: keys,
      validators: { sha256: sha(pages.join('')) },
    });
  });
});
