import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { type CollectorPayload, rawKey } from '@fanout/shared';
import {
  fakeContext,
  ManualClock,
  startTestHttp,
  startTestS3,
  type TestHttpServer,
  type TestS3,
} from '@fanout/testkit';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { collectBatch, type PartialStore, s3PartialStore } from '../../src/index.js';
import { testDeps } from '../helpers/deps.js';
import { payload, RUN_ID, SCHEDULED_AT } from '../helpers/payloads.js';

/** Deterministic bytes that do not repeat, so a misplaced range cannot pass. */
function noise(bytes: number, seed: number): Buffer {
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

const sha = (data: Buffer) => createHash('sha256').update(data).digest('hex');
const TOTAL = 3 * 1024 * 1024;
const V1 = noise(TOTAL, 2463534242);
const V2 = noise(TOTAL, 88172645);
/** What the server sends of a cut download before it stalls. */
const CUT = 1024 * 1024;
const MEMORY_BUFFER = 64 * 1024;
/** Manual time that passes once the first bytes are out: the hard deadline is reached. */
const STALL_MS = 5_000;

interface Upstream {
  etag: string;
  lastModified?: string;
  date?: string;
  body: Buffer;
  /** Stall after CUT bytes on a request without Range, until the test ends. */
  stall: boolean;
  /** How to answer a Range request whose If-Range matches. */
  range: 'honour' | '416' | '503';
  /** Stall a 206 too, after CUT more bytes. */
  stallRange?: boolean;
}

describe('a download cut by the hard deadline resumes on the next hop', () => {
  let s3: TestS3;
  let http: TestHttpServer;
  let clock: ManualClock;
  let upstream: Upstream;
  const stalled: ServerResponse[] = [];

  const answer = (req: IncomingMessage, res: ServerResponse) => {
    const { body } = upstream;
    const validators = {
      etag: upstream.etag,
      'accept-ranges': 'bytes',
      ...(upstream.lastModified ? { 'last-modified': upstream.lastModified } : {}),
      ...(upstream.date ? { date: upstream.date } : {}),
    };
    const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    const ifRange = req.headers['if-range'];
    const matches = ifRange === upstream.etag || ifRange === upstream.lastModified;
    if (range?.[1] !== undefined && matches) {
      const start = Number(range[1]);
      if (upstream.range === '503') {
        res.writeHead(503);
        res.end();
        return;
      }
      if (upstream.range === '416' || start >= body.length) {
        res.writeHead(416, { 'content-range': `bytes */${body.length}` });
        res.end();
        return;
      }
      res.writeHead(206, {
        ...validators,
        'content-range': `bytes ${start}-${body.length - 1}/${body.length}`,
        'content-length': body.length - start,
      });
      if (upstream.stallRange) {
        stall(res, body.subarray(start, start + CUT));
        return;
      }
      res.end(body.subarray(start));
      return;
    }
    res.writeHead(200, { ...validators, 'content-length': body.length });
    if (!upstream.stall) {
      res.end(body);
      return;
    }
    stall(res, body.subarray(0, CUT));
  };

  /** Sends `bytes`, then nothing more; the hard deadline comes once they were read. */
  const stall = (res: ServerResponse, bytes: Buffer) => {
    stalled.push(res);
    res.write(bytes, () => {
      // Give the collector time to read what was sent (generous: on a busy machine its
      // reads and spool writes lag), then let the deadline come.
      setTimeout(() => clock.advance(STALL_MS), 1_500);
    });
  };

  beforeAll(async () => {
    s3 = await startTestS3();
    http = await startTestHttp(answer);
  });

  afterAll(async () => {
    for (const res of stalled) res.destroy();
    await http.stop();
    await s3.stop();
  });

  beforeEach(() => {
    clock = new ManualClock();
    upstream = { etag: '"v1"', body: V1, stall: true, range: 'honour' };
  });

  /**
   * One hop with 6 s left, a 1 s margin and the hard deadline at 2 s left; `requestId`
   * makes it a retry of an earlier invocation, `partials` watches its partial store.
   */
  async function hop(
    input: CollectorPayload,
    settings: Record<string, number> = {},
    options: { requestId?: string; partials?: (store: PartialStore) => PartialStore } = {},
  ) {
    const context = fakeContext({ clock, timeoutMs: 6_000 });
    const deps = await testDeps({
      s3: s3.client,
      bucket: s3.bucket,
      clock,
      context: options.requestId ? { ...context, awsRequestId: options.requestId } : context,
      settings: {
        memoryBufferBytes: MEMORY_BUFFER,
        safetyMarginMs: 1_000,
        hardDeadlineMs: 2_000,
        ...settings,
      },
    });
    const partials = options.partials?.(s3PartialStore(deps));
    return { summary: await collectBatch(input, partials ? { ...deps, partials } : deps), deps };
  }

  const source = (id: string) => ({
    source: { id, url: `${http.url}/${id}`, format: 'csv' },
    estimateMs: 100,
  });
  const ownKey = (sourceId: string) =>
    rawKey({ sourceId, runId: RUN_ID, scheduledAt: SCHEDULED_AT, page: 0, extension: 'csv' });
  const rangeRequests = () => http.requests.filter((r) => r.headers.range !== undefined);

  it('stores the bytes received, then asks for the rest with Range and If-Range and appends it', async () => {
    // Act: hop 0 is cut by the deadline; hop 1 resumes.
    const first = await hop(payload([source('resumed')], { batchId: 'b00001' }));
    const next = first.summary.continuation;
    const resume = next?.tasks[0]?.resume;
    const partial = resume ? await s3.getBytes(resume.key) : Buffer.alloc(0);
    upstream.stall = false;
    const requestsBefore = rangeRequests().length;
    const second = next ? await hop(next) : undefined;

    // Assess: hop 0 handed on where to resume, its bytes a prefix of the body.
    expect(first.summary.continued).toBe(1);
    expect(resume).toMatchObject({
      // The request id in the key keeps a duplicate delivery of the hop off these bytes.
      key: expect.stringMatching(
        new RegExp(`^runs/${RUN_ID}/partial/b00001-h0-resumed-[\\w-]+\\.part$`),
      ),
      validator: '"v1"',
      totalBytes: TOTAL,
      downloadMs: STALL_MS,
    });
    expect(resume?.bytes).toBeGreaterThan(MEMORY_BUFFER);
    expect(resume?.bytes).toBeLessThanOrEqual(CUT);
    expect(partial.equals(V1.subarray(0, resume?.bytes))).toBe(true);
    // Hop 1 asked only for the rest, and stored the whole body, byte-exact.
    expect(rangeRequests().slice(requestsBefore)).toEqual([
      expect.objectContaining({
        headers: expect.objectContaining({
          range: `bytes=${resume?.bytes}-`,
          'if-range': '"v1"',
          'accept-encoding': 'identity',
        }),
      }),
    ]);
    expect(second?.summary.result.outcomes).toEqual([
      expect.objectContaining({
        status: 'ok',
        httpStatus: 200,
        bytes: TOTAL,
        rawKeys: [ownKey('resumed')],
        validators: { etag: '"v1"', sha256: sha(V1) },
      }),
    ]);
    expect((await s3.getBytes(ownKey('resumed'))).equals(V1)).toBe(true);
    expect(await s3.listKeys(`runs/${RUN_ID}/partial/b00001-`)).toEqual([]);
  });

  it('resumes again when the next hop is cut too: more bytes stored, the old ones removed', async () => {
    // Act: hop 0 and hop 1 are both cut; hop 2 finishes.
    const first = await hop(payload([source('twice')], { batchId: 'b00008' }));
    upstream.stallRange = true;
    const secondInput = first.summary.continuation;
    const second = secondInput ? await hop(secondInput) : undefined;
    upstream.stallRange = false;
    const thirdInput = second?.summary.continuation;
    const stored = await s3.listKeys(`runs/${RUN_ID}/partial/b00008-`);
    const third = thirdInput ? await hop(thirdInput) : undefined;

    // Assess
    const before = secondInput?.tasks[0]?.resume;
    const after = thirdInput?.tasks[0]?.resume;
    expect(after).toMatchObject({
      key: expect.stringMatching(
        new RegExp(`^runs/${RUN_ID}/partial/b00008-h1-twice-[\\w-]+\\.part$`),
      ),
      validator: '"v1"',
      downloadMs: 2 * STALL_MS,
    });
    expect(after?.bytes).toBeGreaterThan(before?.bytes ?? Number.POSITIVE_INFINITY);
    expect(stored).toEqual([after?.key]);
    expect(third?.summary.result.outcomes).toEqual([
      expect.objectContaining({
        status: 'ok',
        bytes: TOTAL,
        validators: { etag: '"v1"', sha256: sha(V1) },
      }),
    ]);
    expect((await s3.getBytes(ownKey('twice'))).equals(V1)).toBe(true);
    expect(await s3.listKeys(`runs/${RUN_ID}/partial/b00008-`)).toEqual([]);
  });

  it('restarts cleanly when the validator changed (the server answers 200 to If-Range)', async () => {
    // Act
    const first = await hop(payload([source('changed')], { batchId: 'b00002' }));
    upstream = { etag: '"v2"', body: V2, stall: false, range: 'honour' };
    const next = first.summary.continuation;
    const second = next ? await hop(next) : undefined;

    // Assess
    expect(next?.tasks[0]?.resume?.validator).toBe('"v1"');
    expect(second?.summary.result.outcomes).toEqual([
      expect.objectContaining({
        status: 'ok',
        bytes: TOTAL,
        validators: { etag: '"v2"', sha256: sha(V2) },
      }),
    ]);
    expect((await s3.getBytes(ownKey('changed'))).equals(V2)).toBe(true);
    expect(second?.deps.log.entries).toContainEqual(
      expect.objectContaining({ message: 'cannot resume the download; restarting it' }),
    );
  });

  it('restarts cleanly on 416, with a request without Range', async () => {
    // Act
    const first = await hop(payload([source('refused')], { batchId: 'b00003' }));
    upstream = { ...upstream, stall: false, range: '416' };
    const next = first.summary.continuation;
    const before = http.requests.length;
    const second = next ? await hop(next) : undefined;

    // Assess
    const sent = http.requests.slice(before);
    expect(sent.map((r) => r.headers.range)).toEqual([
      `bytes=${next?.tasks[0]?.resume?.bytes}-`,
      undefined,
    ]);
    // Attempts count across hops: hop 0's cut request, then the refused range and the restart.
    expect(second?.summary.result.outcomes).toEqual([
      expect.objectContaining({ status: 'ok', bytes: TOTAL, attempts: 3 }),
    ]);
    expect((await s3.getBytes(ownKey('refused'))).equals(V1)).toBe(true);
  });

  it('deletes the stored bytes when the resumed download then fails, whatever the outcome', async () => {
    // Act: hop 0 is cut; every request of hop 1 is answered 503 until its attempts are spent.
    const first = await hop(payload([source('failing')], { batchId: 'b00009' }));
    const stored = await s3.listKeys(`runs/${RUN_ID}/partial/b00009-`);
    upstream = { ...upstream, stall: false, range: '503' };
    const next = first.summary.continuation;
    const second = next ? await hop(next) : undefined;

    // Assess: the task failed naming the 503, and its partial object is gone.
    expect(stored).toHaveLength(1);
    expect(second?.summary.result.outcomes).toEqual([
      expect.objectContaining({ status: 'failed', httpStatus: 503 }),
    ]);
    expect(await s3.listKeys(`runs/${RUN_ID}/partial/b00009-`)).toEqual([]);
  });

  it('stores nothing for a cut download in a retry of a hop already recorded', async () => {
    // Prepare: hop 0 is cut and recorded (then its attempt is killed, so Lambda retries it);
    // its continuation is refused the range until its attempts are spent, and removes the bytes.
    const input = payload([source('retried')], { batchId: 'b00010' });
    const first = await hop(input);
    upstream = { ...upstream, stall: false, range: '503' };
    const next = first.summary.continuation;
    if (next) await hop(next);
    const afterChain = await s3.listKeys(`runs/${RUN_ID}/partial/b00010-`);

    // Act: the retry (the same request id) fetches again and is cut again.
    upstream = { ...upstream, stall: true };
    const saved: string[] = [];
    const retry = await hop(
      input,
      {},
      {
        requestId: first.deps.context.awsRequestId,
        partials: (store) => ({
          ...store,
          save: async (key, path) => {
            saved.push(key);
            await store.save(key, path);
          },
        }),
      },
    );

    // Assess: the recorded attempt's chain owned the download; the retry stored no bytes
    // that nobody would resume or remove.
    expect(next?.tasks[0]?.resume).toBeDefined();
    expect(afterChain).toEqual([]);
    expect(retry.summary.recordedBy).toBe('earlier-attempt');
    expect(saved).toEqual([]);
    expect(await s3.listKeys(`runs/${RUN_ID}/partial/b00010-`)).toEqual([]);
  });

  it('resumes on a strong Last-Modified when there is no ETag', async () => {
    // Prepare
    upstream = {
      etag: '',
      lastModified: 'Wed, 25 Nov 2026 12:00:00 GMT',
      date: 'Wed, 25 Nov 2026 13:10:00 GMT',
      body: V1,
      stall: true,
      range: 'honour',
    };

    // Act
    const first = await hop(payload([source('dated')], { batchId: 'b00004' }));

    // Assess
    expect(first.summary.continuation?.tasks[0]?.resume?.validator).toBe(
      'Wed, 25 Nov 2026 12:00:00 GMT',
    );
  });

  it('fails a download that cannot finish within the hop limit, saying how far and how fast', async () => {
    // Act: no hop left (maxHops 0), so nothing is stored for a next hop.
    const { summary } = await hop(payload([source('slow')], { batchId: 'b00005' }), {
      maxHops: 0,
    });

    // Assess
    expect(summary.continued).toBe(0);
    expect(await s3.listKeys(`runs/${RUN_ID}/partial/b00005-`)).toEqual([]);
    const outcome = summary.result.outcomes[0];
    expect(outcome).toMatchObject({ status: 'failed', sourceId: 'slow' });
    expect(outcome?.status === 'failed' ? outcome.reason : '').toMatch(
      /^continuation hop limit reached after 0 hops: download too slow to finish, (\d+) of 3145728 bytes done in 5000 ms \(\d+ bytes\/s\); the rest needs about \d+ s more$/,
    );
  });

  it('does not resume a body with a weak ETag: nothing stored, the next hop starts over', async () => {
    // Prepare
    upstream = { ...upstream, etag: 'W/"v1"' };

    // Act
    const first = await hop(payload([source('weak')], { batchId: 'b00006' }));
    const last = await hop(payload([source('weak')], { batchId: 'b00007' }), { maxHops: 0 });

    // Assess
    expect(first.summary.continued).toBe(1);
    expect(first.summary.continuation?.tasks[0]?.resume).toBeUndefined();
    expect(await s3.listKeys(`runs/${RUN_ID}/partial/b00006-`)).toEqual([]);
    const outcome = last.summary.result.outcomes[0];
    expect(outcome?.status === 'failed' ? outcome.reason : '').toMatch(
      /bytes in the last hop's 5000 ms, not resumable \(no strong ETag or Last-Modified, an encoded body, or not spooled to \/tmp\), so every hop started over/,
    );
  });
});
