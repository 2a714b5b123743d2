import type { IncomingMessage, ServerResponse } from 'node:http';
import { gzipSync } from 'node:zlib';
import {
  fakeContext,
  ManualClock,
  startTestHttp,
  startTestS3,
  type TestHttpServer,
  type TestS3,
} from '@fanout/testkit';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { collectBatch } from '../../src/index.js';
import { testDeps } from '../helpers/deps.js';
import { payload } from '../helpers/payloads.js';

/**
 * Large bodies over real HTTP: a body announced over the limit is never read, and a body
 * that came compressed (so its ETag was weakened, as nginx does, and it cannot be resumed)
 * is asked for unencoded from then on.
 */

const BODY = Buffer.from(
  `${Array.from({ length: 40_000 }, (_, i) => JSON.stringify({ i, v: 'x'.repeat(40) })).join('\n')}\n`,
);
const GZIPPED = gzipSync(BODY);

interface Seen {
  readonly acceptEncoding: string | undefined;
  bodyBytesWritten: number;
  closedEarly: boolean;
}

describe('large bodies', () => {
  let s3: TestS3;
  let http: TestHttpServer;
  let clock: ManualClock;
  let stallGzip = true;
  const seen: Seen[] = [];
  const held: ServerResponse[] = [];

  const answer = (req: IncomingMessage, res: ServerResponse) => {
    const request: Seen = {
      acceptEncoding: req.headers['accept-encoding'],
      bodyBytesWritten: 0,
      closedEarly: false,
    };
    seen.push(request);
    res.on('close', () => {
      if (!res.writableFinished) request.closedEarly = true;
    });
    if (req.url === '/announced-too-large') {
      // Headers only: the body would follow, if anyone asked for it.
      res.writeHead(200, { 'content-type': 'application/x-ndjson', 'content-length': 30_000_000 });
      res.flushHeaders();
      held.push(res);
      return;
    }
    const gzip = /\bgzip\b/.test(request.acceptEncoding ?? '');
    if (gzip) {
      // As nginx with `gzip on`: the compressed representation gets a weak ETag.
      res.writeHead(200, {
        'content-type': 'application/x-ndjson',
        'content-encoding': 'gzip',
        etag: 'W/"v1"',
      });
      if (!stallGzip) {
        res.end(GZIPPED);
        return;
      }
      const part = GZIPPED.subarray(0, Math.floor(GZIPPED.length / 2));
      held.push(res);
      res.write(part, () => {
        request.bodyBytesWritten += part.length;
        // Let the collector read what came, then let its hard deadline come.
        setTimeout(() => clock.advance(5_000), 1_500);
      });
      return;
    }
    res.writeHead(200, {
      'content-type': 'application/x-ndjson',
      'content-length': BODY.length,
      etag: '"v1"',
      'accept-ranges': 'bytes',
    });
    res.end(BODY, () => {
      request.bodyBytesWritten += BODY.length;
    });
  };

  beforeAll(async () => {
    s3 = await startTestS3();
    http = await startTestHttp(answer);
  });

  afterAll(async () => {
    for (const res of held) res.destroy();
    await http.stop();
    await s3.stop();
  });

  beforeEach(() => {
    seen.length = 0;
    clock = new ManualClock();
    stallGzip = true;
  });

  async function hop(input: ReturnType<typeof payload>, settings: Record<string, number> = {}) {
    const deps = await testDeps({
      s3: s3.client,
      bucket: s3.bucket,
      clock,
      context: fakeContext({ clock, timeoutMs: 6_000 }),
      settings: {
        memoryBufferBytes: 64 * 1024,
        safetyMarginMs: 1_000,
        hardDeadlineMs: 2_000,
        ...settings,
      },
    });
    return { summary: await collectBatch(input, deps), deps };
  }

  it('refuses a body whose Content-Length is over the limit without reading a byte of it', async () => {
    const source = { id: 'huge', url: `${http.url}/announced-too-large`, format: 'ndjson' };

    const { summary } = await hop(payload([{ source }], { batchId: 'b00001' }), {
      maxBodyBytes: 1_000_000,
    });

    expect(summary.result.outcomes).toEqual([
      expect.objectContaining({
        status: 'failed',
        attempts: 1,
        permanent: true,
        reason:
          'Content-Length 30000000 exceeds the limit of 1000000 bytes; the body was not downloaded',
      }),
    ]);
    // The connection was closed at the headers: the server never sent a body byte.
    await expect.poll(() => seen[0]?.closedEarly, { timeout: 10_000 }).toBe(true);
    expect(seen.map((s) => s.bodyBytesWritten)).toEqual([0]);
  });

  it('asks for the body unencoded in the hop after one cut while it came compressed', async () => {
    const source = { id: 'gz', url: `${http.url}/gz`, format: 'ndjson' };

    // Hop 0: gzip, weak ETag, cut by the hard deadline: nothing to resume from.
    const first = await hop(payload([{ source }], { batchId: 'b00002' }));
    stallGzip = false;
    const next = first.summary.continuation;
    const second = next ? await hop(next) : undefined;

    expect(seen[0]?.acceptEncoding).toMatch(/gzip/);
    expect(next?.tasks[0]?.resume).toBeUndefined();
    expect(next?.tasks[0]?.tried).toMatchObject({ attempts: 1, identityBody: true });
    expect(seen[1]?.acceptEncoding).toBe('identity');
    expect(second?.summary.result.outcomes).toEqual([
      expect.objectContaining({ status: 'ok', bytes: BODY.length, attempts: 2 }),
    ]);
  });

  it('asks for a body unencoded from the first request when its last one was large', async () => {
    stallGzip = false;
    const source = { id: 'big', url: `${http.url}/big`, format: 'ndjson' };

    await hop(payload([{ source, expectedBytes: 1_000_000 }], { batchId: 'b00003' }), {
      identityFromBytes: 1_000_000,
    });
    await hop(payload([{ source, expectedBytes: 999_999 }], { batchId: 'b00004' }), {
      identityFromBytes: 1_000_000,
    });

    expect(seen.map((s) => s.acceptEncoding)).toEqual(['identity', 'gzip, br']);
  });
});
