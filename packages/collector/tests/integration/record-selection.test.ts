import { fromS3Metadata, rawKey, rawPackKey } from '@fanout/shared';
import { startTestHttp, startTestS3, type TestHttpServer, type TestS3 } from '@fanout/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collectBatch } from '../../src/index.js';
import { testDeps } from '../helpers/deps.js';
import { readBackPack } from '../helpers/packs.js';
import { payload, RUN_ID, SCHEDULED_AT } from '../helpers/payloads.js';

/**
 * What the collector does for emit: "changes" and a cursor: the cursor's `param` goes on the
 * first request with the highest value seen, and every page carries what the parser needs
 * to select its records (the previous fetch's raw keys, the cursor field and value).
 */

const PREVIOUS = 'raw/packs/dt=2026-11-25/20261125T130000Z-b00000-h0.pack.ndjson.gz';
const SINCE = '"2026-11-25T14:00:00.5+01:00"';
const BIG_BYTES = 64 * 1024;

describe('emit and cursor, against the local S3 and a local HTTP server', () => {
  let s3: TestS3;
  let http: TestHttpServer;
  const asked: string[] = [];

  beforeAll(async () => {
    s3 = await startTestS3();
    http = await startTestHttp((req, res) => {
      asked.push(req.url ?? '');
      const url = new URL(req.url ?? '/', 'http://x');
      const body =
        url.pathname === '/big'
          ? `${JSON.stringify({ pad: 'x'.repeat(BIG_BYTES) })}\n`
          : JSON.stringify({ items: [{ id: 1, at: '2026-11-25T13:30:00Z' }] });
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(body);
    });
  });

  afterAll(async () => {
    await http.stop();
    await s3.stop();
  });

  it('sends the highest cursor value seen as its query parameter, and tells the parser', async () => {
    // Prepare
    const deps = await testDeps({ s3: s3.client, bucket: s3.bucket });
    const cursor = { field: 'at', param: 'since' };
    const input = payload(
      [
        { source: { id: 'api', url: `${http.url}/api?limit=50`, cursor }, cursor: SINCE },
        { source: { id: 'first', url: `${http.url}/first`, cursor } },
        {
          source: { id: 'noparam', url: `${http.url}/noparam`, cursor: { field: 'at' } },
          cursor: '7',
        },
        {
          source: { id: 'news', url: `${http.url}/news`, emit: 'changes' },
          previousRawKeys: [PREVIOUS],
        },
        { source: { id: 'news-first', url: `${http.url}/news-first`, emit: 'changes' } },
        // A state from when the source emitted changes: not passed on once it emits all.
        { source: { id: 'plain', url: `${http.url}/plain` }, previousRawKeys: [PREVIOUS] },
      ],
      { batchId: 'b00002' },
    );

    // Act
    await collectBatch(input, deps);

    // Assess
    expect(asked).toContain(
      `/api?limit=50&since=${encodeURIComponent('2026-11-25T14:00:00.5+01:00')}`,
    );
    expect(asked).toContain('/first');
    expect(asked).toContain('/noparam');
    const key = rawPackKey({ runId: RUN_ID, scheduledAt: SCHEDULED_AT, batchId: 'b00002', hop: 0 });
    const pack = await readBackPack(await s3.getBytes(key));
    const entry = (id: string) => {
      const found = pack.entries.find((e) => e.sourceId === id);
      if (!found) throw new Error(`no entry of ${id}`);
      const { emit, previousRawKeys, cursor: selected } = found;
      return { emit, previousRawKeys, cursor: selected };
    };
    expect(entry('api')).toEqual({ cursor: { field: 'at', value: SINCE } });
    expect(entry('first')).toEqual({ cursor: { field: 'at' } });
    expect(entry('noparam')).toEqual({ cursor: { field: 'at', value: '7' } });
    expect(entry('news')).toEqual({ emit: 'changes', previousRawKeys: [PREVIOUS] });
    expect(entry('news-first')).toEqual({ emit: 'changes' });
    expect(entry('plain')).toEqual({});
    // The value is in the entry, not readable from its URL (query values are redacted).
    expect(pack.entries.find((e) => e.sourceId === 'api')?.url).toBe(
      `${http.url}/api?limit=REDACTED&since=REDACTED`,
    );
  });

  it("writes them into a single raw object's metadata", async () => {
    // Prepare
    const deps = await testDeps({
      s3: s3.client,
      bucket: s3.bucket,
      settings: { packEntryMaxBytes: 1024 },
    });
    const input = payload(
      [
        {
          source: {
            id: 'big',
            url: `${http.url}/big`,
            format: 'ndjson',
            emit: 'changes',
            cursor: { field: 'n' },
          },
          previousRawKeys: [PREVIOUS],
          cursor: '41',
        },
      ],
      { batchId: 'b00003' },
    );

    // Act
    await collectBatch(input, deps);

    // Assess
    const key = rawKey({
      sourceId: 'big',
      runId: RUN_ID,
      scheduledAt: SCHEDULED_AT,
      page: 0,
      extension: 'ndjson',
    });
    const head = await s3.head(key);
    expect(fromS3Metadata(head?.metadata)).toMatchObject({
      previousRawKeys: [PREVIOUS],
      cursor: { field: 'n', value: '41' },
    });
  });
});
