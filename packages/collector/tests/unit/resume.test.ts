import { readdir } from 'node:fs/promises';
import { fakeContext, ManualClock } from '@fanout/testkit';
import { describe, expect, it } from 'vitest';
import { collectBatch, type HttpResponse, type HttpTransport } from '../../src/index.js';
import {
  contentRangeStart,
  rangeHeaders,
  resumeValidator,
  totalBytesOf,
} from '../../src/resume.js';
import { testDeps } from '../helpers/deps.js';
import { payload } from '../helpers/payloads.js';
import { fakeS3 } from '../helpers/transport.js';

const LAST_MODIFIED = 'Wed, 25 Nov 2026 12:00:00 GMT';

describe('resumeValidator: what If-Range may carry (RFC 9110 13.1.5)', () => {
  it.each([
    ['a strong ETag', { etag: '"v1"' }, '"v1"'],
    [
      'a strong ETag, ahead of a Last-Modified',
      { etag: '"v1"', 'last-modified': LAST_MODIFIED },
      '"v1"',
    ],
    [
      'a weak ETag: never, not even with a Last-Modified',
      { etag: 'W/"v1"', 'last-modified': LAST_MODIFIED, date: 'Wed, 25 Nov 2026 13:00:00 GMT' },
      undefined,
    ],
    [
      'no ETag, a Last-Modified 60 s before Date',
      { 'last-modified': LAST_MODIFIED, date: 'Wed, 25 Nov 2026 12:01:00 GMT' },
      LAST_MODIFIED,
    ],
    [
      'no ETag, a Last-Modified 59 s before Date: weak',
      { 'last-modified': LAST_MODIFIED, date: 'Wed, 25 Nov 2026 12:00:59 GMT' },
      undefined,
    ],
    [
      'no ETag, a Last-Modified without Date: unverifiable',
      { 'last-modified': LAST_MODIFIED },
      undefined,
    ],
    ['Accept-Ranges: none', { etag: '"v1"', 'accept-ranges': 'none' }, undefined],
    ['nothing', {}, undefined],
  ])('%s', (_name, headers: Record<string, string>, expected) => {
    expect(resumeValidator(headers, undefined)).toBe(expected);
  });

  it('refuses a body that was decoded: a range would be of the encoded bytes', () => {
    expect(resumeValidator({ etag: '"v1"' }, 'gzip')).toBeUndefined();
  });
});

describe('range request helpers', () => {
  it('asks for the bytes after the stored ones, if the body is still the same, unencoded', () => {
    // Act
    const headers = rangeHeaders({ key: 'k', bytes: 1_048_576, validator: '"v1"', downloadMs: 1 });

    // Assess
    expect(headers).toEqual({
      range: 'bytes=1048576-',
      'if-range': '"v1"',
      'accept-encoding': 'identity',
    });
  });

  it.each([
    ['bytes 42-1233/1234', 42],
    ['bytes 0-9/*', 0],
    ['bytes */1234', undefined],
    ['items 0-9/10', undefined],
    [undefined, undefined],
  ])('reads the first byte of Content-Range %s', (header, expected) => {
    expect(contentRangeStart(header)).toBe(expected);
  });

  it('takes the full length from Content-Length only for an unencoded body', () => {
    expect(totalBytesOf({ 'content-length': '31457280' })).toBe(31_457_280);
    expect(totalBytesOf({ 'content-length': '100', 'content-encoding': 'gzip' })).toBeUndefined();
    expect(totalBytesOf({})).toBeUndefined();
  });
});

describe('what a cut attempt leaves behind', () => {
  it('stores nothing for the next hop when the deadline comes after a failed attempt, in the retry', async () => {
    // Prepare: attempt 1 spools 256 KiB then the connection resets; attempt 2 hangs
    // until the hard deadline, which the manual clock brings.
    const clock = new ManualClock();
    const s3 = fakeS3();
    let requests = 0;
    const transport: HttpTransport = async (request) => {
      requests += 1;
      if (requests === 1) {
        return {
          status: 200,
          headers: { etag: '"v1"', 'content-length': String(1024 * 1024) },
          body: (async function* () {
            yield Buffer.alloc(256 * 1024, 1);
            throw Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
          })(),
          discard: () => undefined,
        };
      }
      clock.advance(10_000);
      return new Promise<HttpResponse>((_, reject) => {
        request.signal.addEventListener('abort', () => reject(request.signal.reason), {
          once: true,
        });
      });
    };
    const deps = await testDeps({
      s3,
      clock,
      transport,
      context: fakeContext({ clock, timeoutMs: 12_000 }),
      settings: { memoryBufferBytes: 64 * 1024, safetyMarginMs: 5_000, hardDeadlineMs: 5_000 },
    });

    // Act
    const summary = await collectBatch(
      payload([{ source: { id: 'flaky', url: 'http://upstream.test/file' }, estimateMs: 100 }]),
      deps,
    );

    // Assess
    expect(requests).toBe(2);
    expect(summary.continued).toBe(1);
    expect(summary.continuation?.tasks[0]?.resume).toBeUndefined();
    expect(s3.puts.map((put) => put.Key)).toEqual([summary.recordKey]);
    expect(summary.packEntries).toBe(0);
    expect(deps.log.entries.map((entry) => entry.message)).not.toContain(
      'could not store the partial download; the next hop restarts it',
    );
    expect(await readdir(deps.tmpDir)).toEqual([]);
  });
});
