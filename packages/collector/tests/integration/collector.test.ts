import { createHash } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { gunzipSync, gzipSync } from 'node:zlib';
import {
  BatchResultSchema,
  batchResultKey,
  fromS3Metadata,
  rawKey,
  rawPackKey,
} from '@fanout/shared';
import { startTestHttp, startTestS3, type TestHttpServer, type TestS3 } from '@fanout/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collectBatch } from '../../src/index.js';
import { testDeps } from '../helpers/deps.js';
import { readBackPack, recordCommands } from '../helpers/packs.js';
import { payload, RUN_ID, SCHEDULED_AT } from '../helpers/payloads.js';

/** Deterministic, non-repeating-looking bytes, so a misplaced part cannot pass. */
function noise(bytes: number, seed = 2463534242): Buffer {
  const out = Buffer.alloc(bytes);
  let x = seed;
  for (let i = 0; i < out.length; i += 1) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

const BIG_BYTES = 12 * 1024 * 1024;
const JSON_BODY = JSON.stringify({ items: [{ id: 1 }, { id: 2 }] });
const CSV_BODY = 'id,name\n1,a\n2,b\n';
/** Windows-1252 text: not valid UTF-8, so it travels in the pack as base64. */
const LATIN1_BODY = Buffer.from('id;name\n1;caf\xe9 \x93quoted\x94\r\n', 'latin1');
/** A body sent gzip-encoded: the collector decodes it and stores the JSON itself. */
const GZIPPED_BODY = gzipSync(JSON_BODY);
const NOISE_BYTES = 40 * 1024;
/** Just under the default packEntryMaxBytes (1 MiB), incompressible. */
const MB_BODY_BYTES = 1_000_000;
const sha = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');
const packKey = (batchId: string, hop = 0) =>
  rawPackKey({ runId: RUN_ID, scheduledAt: SCHEDULED_AT, batchId, hop });

describe('collector against the local S3 and a local HTTP server', () => {
  let s3: TestS3;
  let http: TestHttpServer;
  const big = noise(BIG_BYTES);
  let counter = 0;

  beforeAll(async () => {
    s3 = await startTestS3();
    http = await startTestHttp((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      if (url.pathname.startsWith('/ref/')) {
        // The reference workload: a source answers 304 to the validator it was given.
        if (req.headers['if-none-match'] === '"same"') {
          res.writeHead(304, { etag: '"same"' });
          res.end();
          return;
        }
        res.writeHead(200, { 'content-type': 'application/json', etag: '"new"' });
        res.end(JSON.stringify({ path: url.pathname, values: [1, 2, 3] }));
        return;
      }
      if (url.pathname.startsWith('/mb/')) {
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        res.end(noise(MB_BODY_BYTES, Number(url.pathname.slice('/mb/'.length))));
        return;
      }
      if (url.pathname.startsWith('/noise/')) {
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        res.end(noise(NOISE_BYTES, Number(url.pathname.slice('/noise/'.length))));
        return;
      }
      switch (url.pathname) {
        case '/items.json':
          res.writeHead(200, {
            'content-type': 'application/json',
            etag: '"v1"',
            'last-modified': 'Wed, 25 Nov 2026 12:00:00 GMT',
          });
          res.end(JSON_BODY);
          return;
        case '/zipped.json':
          res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip' });
          res.end(GZIPPED_BODY);
          return;
        case '/table.csv':
          res.writeHead(200, { 'content-type': 'text/csv' });
          res.end(CSV_BODY);
          return;
        case '/latin.csv':
          res.writeHead(200, { 'content-type': 'text/csv; charset=windows-1252' });
          res.end(LATIN1_BODY);
          return;
        case '/counter.json':
          counter += 1;
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ delivery: counter }));
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
            ...(page < 2 ? { link: '</paged?page=2&token=secret-2>; rel="next"' } : {}),
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

  it("packs every changed page into the hop's one object, outcomes in its header", async () => {
    // Prepare
    const deps = await testDeps({ s3: s3.client, bucket: s3.bucket });
    const input = payload([
      {
        source: {
          id: 'items',
          url: `${http.url}/items.json?token=secret-1`,
          options: { recordsPath: 'items' },
        },
      },
      { source: { id: 'table', url: `${http.url}/table.csv`, format: 'csv' } },
      {
        source: {
          id: 'latin',
          url: `${http.url}/latin.csv`,
          format: 'csv',
          options: { delimiter: ';' },
        },
      },
      { source: { id: 'zipped', url: `${http.url}/zipped.json` } },
      { source: { id: 'missing', url: `${http.url}/nope?token=secret-3` } },
    ]);
    const recorder = recordCommands(s3.client);

    // Act
    const summary = await collectBatch(input, deps);
    recorder.stop();

    // Assess: ONE PUT-class request for the whole hop, and no batch result object.
    const key = packKey('b00001');
    expect(key).toBe('raw/packs/dt=2026-11-25/20261125T131000Z-b00001-h0.pack.ndjson.gz');
    expect(recorder.puts()).toEqual([`PutObject ${key}`]);
    expect(await s3.listKeys('raw/')).toEqual([key]);
    expect(await s3.listKeys(batchResultKey(RUN_ID, 'b00001', 0))).toEqual([]);
    expect(summary).toMatchObject({ recordKey: key, packEntries: 4, ok: 4, failed: 1 });

    const stored = await s3.getBytes(key);
    const pack = await readBackPack(stored);
    expect(pack.header).toMatchObject({
      kind: 'fanout.pack',
      version: 1,
      runId: RUN_ID,
      batchId: 'b00001',
      hop: 0,
      scheduledAt: SCHEDULED_AT,
      entries: 4,
    });
    const result = BatchResultSchema.parse(pack.header.result);
    expect(result).toEqual(summary.result);
    const bySource = Object.fromEntries(result.outcomes.map((o) => [o.sourceId, o]));
    expect(bySource.items).toMatchObject({
      status: 'ok',
      attempts: 1,
      bytes: JSON_BODY.length,
      rawKeys: [key],
      validators: {
        etag: '"v1"',
        lastModified: 'Wed, 25 Nov 2026 12:00:00 GMT',
        sha256: sha(JSON_BODY),
      },
    });
    expect(bySource.table).toMatchObject({ status: 'ok', rawKeys: [key] });
    expect(bySource.latin).toMatchObject({ status: 'ok', rawKeys: [key] });
    expect(bySource.missing).toMatchObject({ status: 'failed', httpStatus: 404, attempts: 1 });

    const entries = Object.fromEntries(pack.entries.map((e, i) => [e.sourceId, { e, i }]));
    expect(entries.items?.e).toEqual({
      sourceId: 'items',
      page: 0,
      url: `${http.url}/items.json?token=REDACTED`,
      httpStatus: 200,
      contentType: 'application/json',
      etag: '"v1"',
      lastModified: 'Wed, 25 Nov 2026 12:00:00 GMT',
      fetchedAt: expect.any(String),
      sha256: sha(JSON_BODY),
      bytes: JSON_BODY.length,
      format: 'json',
      formatOptions: { recordsPath: 'items' },
      bodyEncoding: 'utf8',
      body: JSON_BODY,
    });
    expect(entries.latin?.e).toMatchObject({
      contentType: 'text/csv; charset=windows-1252',
      format: 'csv',
      formatOptions: { delimiter: ';' },
      bodyEncoding: 'base64',
      sha256: sha(LATIN1_BODY),
    });
    expect(entries.zipped?.e).toMatchObject({
      bodyEncoding: 'utf8',
      body: JSON_BODY,
      bytes: JSON_BODY.length,
      sha256: sha(JSON_BODY),
    });
    expect(entries.zipped?.e.contentEncoding).toBeUndefined();
    expect(entries.items?.e.contentEncoding).toBeUndefined();
    const body = (sourceId: string) => pack.bodies[entries[sourceId]?.i ?? -1];
    expect(body('zipped')?.toString('utf8')).toBe(JSON_BODY);
    expect(body('latin')?.equals(LATIN1_BODY)).toBe(true);
    expect(body('table')?.toString('utf8')).toBe(CSV_BODY);
    // No credential in the stored pack: not in entry URLs, not in failure reasons.
    const text = gunzipSync(stored).toString('utf8');
    expect(text).not.toContain('secret');
    expect(bySource.missing).toMatchObject({ reason: expect.stringContaining('token=REDACTED') });
    // `zcat <pack> | head -1` is the header.
    expect(JSON.parse(text.split('\n')[0] ?? '')).toMatchObject({ kind: 'fanout.pack' });
  });

  it('writes exactly one object for the reference workload (100 sources, 20 changed)', async () => {
    // Prepare
    const deps = await testDeps({ s3: s3.client, bucket: s3.bucket });
    const input = payload(
      Array.from({ length: 100 }, (_, i) => ({
        source: { id: `ref-${i}`, url: `${http.url}/ref/${i}` },
        ...(i % 5 === 0 ? {} : { previous: { etag: '"same"' } }),
      })),
      { batchId: 'b00010' },
    );
    const recorder = recordCommands(s3.client);

    // Act
    const summary = await collectBatch(input, deps);
    recorder.stop();

    // Assess
    const key = packKey('b00010');
    expect(recorder.puts()).toEqual([`PutObject ${key}`]);
    expect(summary).toMatchObject({ ok: 20, unchanged: 80, failed: 0, packEntries: 20 });
    const pack = await readBackPack(await s3.getBytes(key));
    expect(pack.header.result.outcomes).toHaveLength(100);
    expect(pack.entries.map((e) => e.sourceId).sort()).toEqual(
      Array.from({ length: 20 }, (_, i) => `ref-${i * 5}`).sort(),
    );
    expect(await s3.listKeys(batchResultKey(RUN_ID, 'b00010', 0))).toEqual([]);
  });

  it("writes only the hop's record, a pack holding the header alone, when every source is unchanged (304)", async () => {
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
    const recorder = recordCommands(s3.client);

    // Act
    const summary = await collectBatch(input, deps);
    recorder.stop();

    // Assess
    expect(http.requests[before]?.headers['if-none-match']).toBe('"same"');
    // One PUT: the hop's record, a pack holding the header alone.
    const recordKey = packKey('b00003');
    expect(recorder.puts()).toEqual([`PutObject ${recordKey}`]);
    expect(summary).toMatchObject({ recordKey, packEntries: 0 });
    const stored = await readBackPack(await s3.getBytes(recordKey));
    expect(stored.entries).toEqual([]);
    const result = stored.header.result;
    expect(result.outcomes).toEqual([
      expect.objectContaining({
        status: 'unchanged',
        httpStatus: 304,
        validators: { etag: '"same"' },
      }),
    ]);
  });

  it('streams a body over packEntryMaxBytes to its own raw object, in parts, and names that key', async () => {
    // Prepare
    const deps = await testDeps({
      s3: s3.client,
      bucket: s3.bucket,
      settings: { memoryBufferBytes: 1024 * 1024, concurrency: 1 },
    });
    const input = payload(
      [
        { source: { id: 'big', url: `${http.url}/big.ndjson`, format: 'ndjson' } },
        { source: { id: 'small', url: `${http.url}/table.csv`, format: 'csv' } },
      ],
      { batchId: 'b00002' },
    );
    const recorder = recordCommands(s3.client);

    // Act
    const summary = await collectBatch(input, deps);
    recorder.stop();

    // Assess
    const bigKey = rawKey({
      sourceId: 'big',
      runId: RUN_ID,
      scheduledAt: SCHEDULED_AT,
      page: 0,
      extension: 'ndjson',
    });
    const stored = await s3.getBytes(bigKey);
    expect(stored.length).toBe(BIG_BYTES);
    expect(stored.equals(big)).toBe(true);
    expect(fromS3Metadata((await s3.head(bigKey))?.metadata).sha256).toBe(sha(big));
    expect(summary.bytesStored).toBe(BIG_BYTES + CSV_BODY.length);
    // 12 MB in 5 MB parts: a multipart upload of 3 parts; then the pack, one PutObject.
    const pack = packKey('b00002');
    expect(recorder.puts()).toEqual([
      `CreateMultipartUpload ${bigKey}`,
      `UploadPart ${bigKey}`,
      `UploadPart ${bigKey}`,
      `UploadPart ${bigKey}`,
      `CompleteMultipartUpload ${bigKey}`,
      `PutObject ${pack}`,
    ]);
    const { header, entries } = await readBackPack(await s3.getBytes(pack));
    expect(entries.map((e) => e.sourceId)).toEqual(['small']);
    expect(header.result.outcomes).toEqual([
      expect.objectContaining({ sourceId: 'big', status: 'ok', rawKeys: [bigKey] }),
      expect.objectContaining({ sourceId: 'small', status: 'ok', rawKeys: [pack] }),
    ]);
    const storedLog = deps.log.entries.find((e) => e.message === 'stored raw object');
    expect(storedLog?.extra[0]).toMatchObject({ key: bigKey, spooled: true, bytes: BIG_BYTES });
    // The spool file is gone.
    expect(await readdir(deps.tmpDir)).toEqual([]);
  });

  it('sends a page that would not fit under packMaxBytes to its own raw object', async () => {
    // Prepare: 40 KB incompressible bodies; the cap leaves room for one, not two.
    const deps = await testDeps({
      s3: s3.client,
      bucket: s3.bucket,
      settings: { packMaxBytes: 80_000, concurrency: 1 },
    });
    const input = payload(
      [
        { source: { id: 'noise-a', url: `${http.url}/noise/11`, format: 'csv' } },
        { source: { id: 'noise-b', url: `${http.url}/noise/12`, format: 'csv' } },
      ],
      { batchId: 'b00006' },
    );
    const recorder = recordCommands(s3.client);

    // Act
    const summary = await collectBatch(input, deps);
    recorder.stop();

    // Assess
    const pack = packKey('b00006');
    const ownKey = rawKey({
      sourceId: 'noise-b',
      runId: RUN_ID,
      scheduledAt: SCHEDULED_AT,
      page: 0,
      extension: 'csv',
    });
    expect(recorder.puts()).toEqual([`PutObject ${ownKey}`, `PutObject ${pack}`]);
    expect((await s3.getBytes(ownKey)).equals(noise(NOISE_BYTES, 12))).toBe(true);
    expect(fromS3Metadata((await s3.head(ownKey))?.metadata)).toMatchObject({
      sourceId: 'noise-b',
      batchId: 'b00006',
      sha256: sha(noise(NOISE_BYTES, 12)),
      // The URL that answered: what an HTML page's relative links resolve against.
      url: `${http.url}/noise/12`,
    });
    const stored = await s3.getBytes(pack);
    expect(stored.length).toBeLessThan(80_000 + 4096);
    const { header, entries, bodies } = await readBackPack(stored);
    expect(entries.map((e) => e.sourceId)).toEqual(['noise-a']);
    expect(bodies[0]?.equals(noise(NOISE_BYTES, 11))).toBe(true);
    expect(header.result.outcomes.map((o) => (o.status === 'ok' ? o.rawKeys : []))).toEqual([
      [pack],
      [ownKey],
    ]);
    expect(summary.packEntries).toBe(1);
  });

  it('uploads a pack of 5 MiB or more in parts, streamed from its spool file', async () => {
    // Prepare: six incompressible 1 MB bodies make a pack of about 6 MB.
    const deps = await testDeps({
      s3: s3.client,
      bucket: s3.bucket,
      settings: { packMemoryBytes: 2 * 1024 * 1024 },
    });
    const seeds = [21, 22, 23, 24, 25, 26];
    const input = payload(
      seeds.map((seed) => ({
        source: { id: `mb-${seed}`, url: `${http.url}/mb/${seed}`, format: 'csv' as const },
      })),
      { batchId: 'b00007' },
    );
    const recorder = recordCommands(s3.client);

    // Act
    const summary = await collectBatch(input, deps);
    recorder.stop();

    // Assess
    const key = packKey('b00007');
    expect(recorder.puts()).toEqual([
      `CreateMultipartUpload ${key}`,
      `UploadPart ${key}`,
      `UploadPart ${key}`,
      `CompleteMultipartUpload ${key}`,
    ]);
    expect(summary.packEntries).toBe(6);
    const { header, entries, bodies } = await readBackPack(await s3.getBytes(key));
    expect(header.entries).toBe(6);
    for (const [i, entry] of entries.entries()) {
      const seed = Number(entry.sourceId.slice('mb-'.length));
      expect(bodies[i]?.equals(noise(MB_BODY_BYTES, seed))).toBe(true);
    }
    expect(entries.map((e) => e.sourceId).sort()).toEqual(seeds.map((s) => `mb-${s}`));
    const written = deps.log.entries.find((e) => e.message === 'pack written');
    expect(written?.extra[0]).toMatchObject({ key, spooled: true });
    expect(await readdir(deps.tmpDir)).toEqual([]);
  });

  it('keeps the first pack when the same hop is delivered again (written once, IfNoneMatch)', async () => {
    // Prepare: the upstream answers differently to each delivery.
    const input = payload(
      [
        { source: { id: 'dup-a', url: `${http.url}/counter.json` } },
        { source: { id: 'dup-b', url: `${http.url}/table.csv`, format: 'csv' } },
      ],
      { batchId: 'b00004' },
    );
    const runKeys = async () =>
      [...(await s3.listKeys('raw/')), ...(await s3.listKeys('runs/'))].filter(
        (k) => k.includes('dup-') || k.includes('b00004'),
      );
    const counterBody = async () => {
      const pack = await readBackPack(await s3.getBytes(packKey('b00004')));
      const index = pack.entries.findIndex((e) => e.sourceId === 'dup-a');
      return pack.bodies[index]?.toString('utf8');
    };

    // Act
    await collectBatch(input, await testDeps({ s3: s3.client, bucket: s3.bucket }));
    const first = await runKeys();
    const firstBody = await counterBody();
    await collectBatch(input, await testDeps({ s3: s3.client, bucket: s3.bucket }));
    const second = await runKeys();
    const secondBody = await counterBody();

    // Assess: the same single key, still holding the first delivery's pages (the second
    // delivery's conditional write found the pack there and stored nothing).
    expect(first).toEqual([packKey('b00004')]);
    expect(second).toEqual(first);
    expect(JSON.parse(firstBody ?? '')).toEqual({ delivery: expect.any(Number) });
    expect(secondBody).toBe(firstBody);
  });

  it('packs every page of a paginated source, spooling bodies and the pack to temp files', async () => {
    // Prepare: no pack memory at all, so the pack goes to a temp file from its first entry;
    // a 16-byte body buffer, so each page body is itself read back from a spool file.
    const deps = await testDeps({
      s3: s3.client,
      bucket: s3.bucket,
      settings: { packMemoryBytes: 0, memoryBufferBytes: 16 },
    });
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
    const key = packKey('b00005');
    expect(await s3.listKeys('raw/source=feed/')).toEqual([]);
    const pages = [
      '<rss><channel><item>1</item></channel></rss>',
      '<rss><channel><item>2</item></channel></rss>',
    ];
    const { entries, bodies } = await readBackPack(await s3.getBytes(key));
    expect(entries.map((e) => [e.sourceId, e.page, e.url, e.sha256])).toEqual([
      ['feed', 0, `${http.url}/paged`, sha(pages[0] ?? '')],
      ['feed', 1, `${http.url}/paged?page=REDACTED&token=REDACTED`, sha(pages[1] ?? '')],
    ]);
    expect(bodies.map(String)).toEqual(pages);
    expect(entries[1]).toMatchObject({ contentType: 'application/rss+xml', format: 'rss' });
    expect(summary.result.outcomes[0]).toMatchObject({
      status: 'ok',
      rawKeys: [key, key],
      validators: { sha256: sha(pages.join('')) },
    });
    const packed = deps.log.entries.filter((e) => e.message === 'packed raw page');
    expect(packed.map((e) => e.extra[0])).toEqual([
      expect.objectContaining({ page: 0, spooled: true, url: `${http.url}/paged` }),
      expect.objectContaining({
        page: 1,
        spooled: true,
        url: `${http.url}/paged?page=REDACTED&token=REDACTED`,
      }),
    ]);
    const written = deps.log.entries.find((e) => e.message === 'pack written');
    expect(written?.extra[0]).toMatchObject({ key, entries: 2, spooled: true });
    expect(await readdir(deps.tmpDir)).toEqual([]);
  });
});
