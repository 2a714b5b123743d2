import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { bytesSource, ContentEncodingError, parseStream } from '../../src/index.js';
import { gunzipLines, memorySink, TEST_LIMITS } from '../helpers/streams.js';

const ENVELOPE = { sourceId: 'src', runId: '20261125T131000Z', fetchedAt: '2026-11-25T13:10:03Z' };

async function parse(body: Buffer, contentEncoding: string, maxRawBytes = TEST_LIMITS.maxRawBytes) {
  const sink = memorySink();
  const stats = await parseStream(bytesSource(body, 100), sink.stream, {
    format: 'ndjson',
    contentEncoding,
    envelope: ENVELOPE,
    limits: { ...TEST_LIMITS, maxRawBytes },
    gzipLevel: 1,
  });
  const records = gunzipLines(sink.bytes()).map((line) => (line as { record: unknown }).record);
  return { stats, records };
}

async function parseError(body: Buffer, contentEncoding: string, maxRawBytes?: number) {
  try {
    await parse(body, contentEncoding, maxRawBytes);
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected the parse to fail');
}

describe('bodies that still have a Content-Encoding', () => {
  const text = '{"a":1}\n{"b":"é"}\n';
  const expected = [{ a: 1 }, { b: 'é' }];

  it('undoes gzip, x-gzip, deflate and br, and identity leaves the body as it is', async () => {
    expect((await parse(gzipSync(text), 'gzip')).records).toEqual(expected);
    expect((await parse(gzipSync(text), 'X-Gzip')).records).toEqual(expected);
    expect((await parse(deflateSync(text), 'deflate')).records).toEqual(expected);
    expect((await parse(brotliCompressSync(text), 'br')).records).toEqual(expected);
    expect((await parse(Buffer.from(text), 'identity')).records).toEqual(expected);
  });

  it('stops a compression bomb at FANOUT_MAX_RAW_BYTES of decoded bytes', async () => {
    // Prepare: 4 MiB of blank lines compress to a few KiB.
    const bomb = gzipSync(Buffer.alloc(4 * 1024 * 1024, 0x0a));
    expect(bomb.length).toBeLessThan(64 * 1024);

    // Act
    const error = await parseError(bomb, 'gzip', 100_000);

    // Assess
    expect(error).toBeInstanceOf(ContentEncodingError);
    expect(error.message).toMatch(
      /^Content-Encoding "gzip": the decoded body passed the 100000-byte limit \(FANOUT_MAX_RAW_BYTES\) at byte \d+; a compression bomb/,
    );
  });

  it('rejects a corrupt body and an unsupported coding', async () => {
    const corrupt = Buffer.concat([gzipSync(text).subarray(0, 12), Buffer.from('not gzip')]);
    const error = await parseError(corrupt, 'gzip');
    expect(error).toBeInstanceOf(ContentEncodingError);
    expect(error.message).toContain('Content-Encoding "gzip": not valid');

    const unsupported = await parseError(Buffer.from(text), 'zstd');
    expect(unsupported.message).toBe(
      'Content-Encoding "zstd": not supported (gzip, x-gzip, deflate, br and identity are)',
    );
  });
});
