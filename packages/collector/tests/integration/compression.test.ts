import { createHash } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import {
  brotliCompressSync,
  constants,
  deflateRawSync,
  deflateSync,
  gunzipSync,
  gzipSync,
} from 'node:zlib';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { rawKey, rawPackKey } from '@fanout/shared';
import { startTestHttp, startTestS3, type TestHttpServer, type TestS3 } from '@fanout/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collectBatch } from '../../src/index.js';
import { testDeps } from '../helpers/deps.js';
import { readBackPack } from '../helpers/packs.js';
import { payload, RUN_ID, SCHEDULED_AT, type TaskInput } from '../helpers/payloads.js';

const sha = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');

/** Text that compresses but does not repeat exactly, so a misplaced byte shows. */
function records(count: number): Buffer {
  const lines: string[] = [];
  for (let i = 0; i < count; i += 1) {
    lines.push(JSON.stringify({ id: i, name: `item-${(i * 2654435761) % 1_000_003}` }));
  }
  return Buffer.from(`${lines.join('\n')}\n`);
}

const SMALL = records(2_000);
/** Past packEntryMaxBytes (1 MiB) once decoded: stored in its own raw object. */
const LARGE = records(60_000);
const BOMB_ZEROS = 50 * 1024 * 1024;
const BOMB = gzipSync(Buffer.alloc(BOMB_ZEROS));
const LIMIT = 1_000_000;

interface Served {
  readonly encoding?: string;
  readonly body: Buffer;
  readonly contentType?: string;
}

/** What each path answers: the body as sent on the wire, and its Content-Encoding. */
const ROUTES: Readonly<Record<string, Served>> = {
  '/gzip': { encoding: 'gzip', body: gzipSync(SMALL) },
  '/x-gzip': { encoding: 'x-gzip', body: gzipSync(SMALL) },
  '/br': { encoding: 'br', body: brotliCompressSync(SMALL) },
  '/deflate': { encoding: 'deflate', body: deflateSync(SMALL) },
  '/deflate-raw': { encoding: 'deflate', body: deflateRawSync(SMALL) },
  '/gzip-then-br': { encoding: 'gzip, br', body: brotliCompressSync(gzipSync(SMALL)) },
  '/identity': { encoding: 'identity', body: SMALL },
  '/large-gzip': { encoding: 'gzip', body: gzipSync(LARGE) },
  '/empty-gzip': { encoding: 'gzip', body: Buffer.alloc(0) },
  '/bomb': { encoding: 'gzip', body: BOMB },
  '/truncated': { encoding: 'gzip', body: gzipSync(SMALL).subarray(0, 200) },
  '/corrupt-br': { encoding: 'br', body: Buffer.from('this was never brotli, whatever it says') },
  '/zstd': { encoding: 'zstd', body: Buffer.from([0x28, 0xb5, 0x2f, 0xfd]) },
  '/layers': {
    encoding: 'gzip, gzip, gzip, gzip',
    body: gzipSync(gzipSync(gzipSync(gzipSync(SMALL)))),
  },
};

function serve(res: ServerResponse, served: Served): void {
  res.writeHead(200, {
    'content-type': served.contentType ?? 'application/x-ndjson',
    ...(served.encoding ? { 'content-encoding': served.encoding } : {}),
  });
  // Written in slices so the collector decodes a real stream.
  for (let offset = 0; offset < served.body.length; offset += 16 * 1024) {
    res.write(served.body.subarray(offset, offset + 16 * 1024));
  }
  res.end();
}

describe('compressed responses, decoded by the collector', () => {
  let s3: TestS3;
  let http: TestHttpServer;
  let batch = 0;

  beforeAll(async () => {
    s3 = await startTestS3();
    http = await startTestHttp((req, res) => {
      const path = new URL(req.url ?? '/', 'http://x').pathname;
      if (path === '/cut') {
        // Promises the whole gzip body, sends half of it, then drops the connection.
        const whole = gzipSync(LARGE);
        res.writeHead(200, { 'content-encoding': 'gzip', 'content-length': whole.length });
        res.write(whole.subarray(0, whole.length / 2), () => res.destroy());
        return;
      }
      const served = ROUTES[path];
      if (served) {
        serve(res, served);
        return;
      }
      res.writeHead(404);
      res.end();
    });
  });

  afterAll(async () => {
    await http.stop();
    await s3.stop();
  });

  /** Runs one batch (its own batch id) and returns the summary and its deps. */
  async function collect(tasks: TaskInput[], settings = {}) {
    batch += 1;
    const batchId = `b${String(batch).padStart(5, '0')}`;
    const deps = await testDeps({ s3: s3.client, bucket: s3.bucket, settings });
    const summary = await collectBatch(payload(tasks, { batchId }), deps);
    return { summary, deps, batchId };
  }

  const requestsTo = (path: string) => http.requests.filter((r) => r.url === path);

  it('asks for gzip, br and packs gzip, x-gzip, br, deflate (zlib and raw) and stacked bodies byte-exact', async () => {
    // Prepare
    const paths = [
      '/gzip',
      '/x-gzip',
      '/br',
      '/deflate',
      '/deflate-raw',
      '/gzip-then-br',
      '/identity',
    ];
    const tasks = paths.map((path) => ({
      source: { id: path.slice(1), url: `${http.url}${path}`, format: 'ndjson' },
    }));

    // Act
    const { summary, batchId } = await collect(tasks);

    // Assess
    for (const path of paths) {
      expect(requestsTo(path).at(-1)?.headers['accept-encoding']).toBe('gzip, br');
    }
    const key = rawPackKey({ runId: RUN_ID, scheduledAt: SCHEDULED_AT, batchId, hop: 0 });
    expect(summary).toMatchObject({ recordKey: key, ok: paths.length, packEntries: paths.length });
    for (const outcome of summary.result.outcomes) {
      expect(outcome).toMatchObject({
        status: 'ok',
        bytes: SMALL.length,
        validators: { sha256: sha(SMALL) },
      });
    }
    const pack = await readBackPack(await s3.getBytes(key));
    expect(pack.entries.map((e) => e.sourceId).sort()).toEqual(paths.map((p) => p.slice(1)).sort());
    pack.entries.forEach((entry, i) => {
      expect(entry).toMatchObject({
        bytes: SMALL.length,
        sha256: sha(SMALL),
        bodyEncoding: 'utf8',
      });
      expect(entry.contentEncoding).toBeUndefined();
      expect(pack.bodies[i]?.equals(SMALL)).toBe(true);
    });
  });

  it('streams a large gzip body, decoded, to its own raw object with no Content-Encoding', async () => {
    // Act
    const { summary } = await collect([
      { source: { id: 'large', url: `${http.url}/large-gzip`, format: 'ndjson' } },
    ]);

    // Assess
    const key = rawKey({
      sourceId: 'large',
      runId: RUN_ID,
      scheduledAt: SCHEDULED_AT,
      page: 0,
      extension: 'ndjson',
    });
    expect(summary.result.outcomes).toEqual([
      expect.objectContaining({ status: 'ok', bytes: LARGE.length, rawKeys: [key] }),
    ]);
    expect(LARGE.length).toBeGreaterThan(1024 * 1024);
    expect((await s3.getBytes(key)).equals(LARGE)).toBe(true);
    const head = await s3.client.send(new GetObjectCommand({ Bucket: s3.bucket, Key: key }));
    expect(head.ContentEncoding).toBeUndefined();
    expect(head.Metadata?.sha256).toBe(sha(LARGE));
    await head.Body?.transformToByteArray();
  });

  it('decodes gzip sent to a source that asked for identity', async () => {
    // Act
    const { summary, deps } = await collect([
      {
        source: {
          id: 'stubborn',
          url: `${http.url}/gzip?asked=identity`,
          headers: { 'Accept-Encoding': 'identity' },
        },
      },
    ]);

    // Assess
    expect(requestsTo('/gzip?asked=identity').at(-1)?.headers['accept-encoding']).toBe('identity');
    expect(summary.result.outcomes).toEqual([
      expect.objectContaining({
        status: 'ok',
        bytes: SMALL.length,
        validators: { sha256: sha(SMALL) },
      }),
    ]);
    expect(deps.log.entries).toContainEqual(
      expect.objectContaining({
        message: 'packed raw page',
        extra: [expect.objectContaining({ sourceId: 'stubborn', decodedFrom: 'gzip' })],
      }),
    );
  });

  it("passes a source's own Accept-Encoding through, whatever its case", async () => {
    // Act
    const { summary } = await collect([
      {
        source: {
          id: 'own',
          url: `${http.url}/deflate?asked=deflate`,
          headers: { 'accept-ENCODING': 'deflate;q=1, *;q=0' },
        },
      },
    ]);

    // Assess
    const seen = requestsTo('/deflate?asked=deflate').at(-1)?.headers;
    expect(seen?.['accept-encoding']).toBe('deflate;q=1, *;q=0');
    expect(summary.ok).toBe(1);
  });

  it('sees a compressed body as unchanged when its decoded bytes hash as before', async () => {
    // Act
    const { summary } = await collect([
      {
        source: { id: 'same', url: `${http.url}/br?same`, format: 'ndjson' },
        previous: { sha256: sha(SMALL) },
      },
    ]);

    // Assess
    expect(summary.result.outcomes).toEqual([
      expect.objectContaining({ status: 'unchanged', validators: { sha256: sha(SMALL) } }),
    ]);
    expect(summary.packEntries).toBe(0);
  });

  it('takes an empty body with a Content-Encoding as an empty body', async () => {
    // Act
    const { summary } = await collect([{ source: { id: 'empty', url: `${http.url}/empty-gzip` } }]);

    // Assess
    expect(summary.result.outcomes).toEqual([
      expect.objectContaining({ status: 'ok', bytes: 0, validators: { sha256: sha('') } }),
    ]);
  });

  it("stops a compression bomb at the source's byte limit, naming the limit and the encoding", async () => {
    // Prepare
    const tmpDir = (await testDeps()).tmpDir;
    batch += 1;
    const deps = await testDeps({ s3: s3.client, bucket: s3.bucket, tmpDir });

    // Act
    const summary = await collectBatch(
      payload(
        [
          { source: { id: 'bomb-capped', url: `${http.url}/bomb?capped`, maxBytes: LIMIT } },
          { source: { id: 'bomb-default', url: `${http.url}/bomb?default` } },
        ],
        { batchId: `b${String(batch).padStart(5, '0')}` },
      ),
      deps,
    );

    // Assess
    expect(BOMB.length).toBeLessThan(64 * 1024);
    const bySource = Object.fromEntries(summary.result.outcomes.map((o) => [o.sourceId, o]));
    expect(bySource['bomb-capped']).toMatchObject({
      status: 'failed',
      attempts: 1,
      reason: `body exceeds ${LIMIT} bytes once decoded from gzip`,
    });
    // No maxBytes: the per-source limit at the default concurrency, 28 MiB.
    expect(bySource['bomb-default']).toMatchObject({
      status: 'failed',
      reason: 'body exceeds 29360128 bytes once decoded from gzip',
    });
    expect(summary.packEntries).toBe(0);
    expect(await readdir(tmpDir)).toEqual([]);
  });

  /** How many bytes Node's own gunzip gets out of a truncated stream before it fails. */
  function decodedPrefix(truncated: Buffer): number {
    return gunzipSync(truncated, { finishFlush: constants.Z_SYNC_FLUSH }).length;
  }

  it('fails a truncated gzip body and a corrupt br body, naming the encoding and where, without retrying', async () => {
    // Act
    const { summary } = await collect([
      { source: { id: 'truncated', url: `${http.url}/truncated` } },
      { source: { id: 'corrupt', url: `${http.url}/corrupt-br` } },
    ]);

    // Assess
    const bySource = Object.fromEntries(summary.result.outcomes.map((o) => [o.sourceId, o]));
    expect(bySource.truncated).toMatchObject({
      status: 'failed',
      attempts: 1,
      // Where it broke: all 200 bytes sent were taken in, and what they decoded to.
      reason: `gzip body is truncated or corrupt: unexpected end of file (Z_BUF_ERROR) at compressed byte 200, ${decodedPrefix(gzipSync(SMALL).subarray(0, 200))} bytes decoded`,
    });
    expect(bySource.corrupt).toMatchObject({
      status: 'failed',
      attempts: 1,
      reason: expect.stringMatching(/^br body is truncated or corrupt: /),
    });
    expect(summary.packEntries).toBe(0);
  });

  it('retries a compressed body cut off by the network, as any network error', async () => {
    // Act
    const { summary } = await collect([{ source: { id: 'cut', url: `${http.url}/cut` } }]);

    // Assess: the transport's error, not a decoding one, so it is retried.
    expect(summary.result.outcomes).toEqual([
      expect.objectContaining({
        status: 'failed',
        attempts: 3,
        reason: expect.stringMatching(/^network error: /),
      }),
    ]);
    expect(requestsTo('/cut')).toHaveLength(3);
  });

  it('fails a body in an encoding it cannot decode, or in too many layers, naming it', async () => {
    // Act
    const { summary } = await collect([
      { source: { id: 'zstd', url: `${http.url}/zstd` } },
      { source: { id: 'layers', url: `${http.url}/layers` } },
    ]);

    // Assess
    expect(summary.result.outcomes).toEqual([
      expect.objectContaining({
        sourceId: 'zstd',
        status: 'failed',
        reason: 'response has Content-Encoding "zstd"; the collector decodes gzip, deflate and br',
      }),
      expect.objectContaining({
        sourceId: 'layers',
        status: 'failed',
        reason: 'response has Content-Encoding "gzip, gzip, gzip, gzip": more than 3 layers',
      }),
    ]);
  });
});
