import { createHash } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import {
  bytesSource,
  copySource,
  createExtractorRegistry,
  ExtractorFailedError,
  GzipMemberAssembler,
  MalformedInputError,
  type ParseStreamOptions,
  parseStream,
  RawObjectTooLargeError,
  UnknownFormatError,
} from '../../src/index.js';
import { gunzipLines, memorySink, TEST_LIMITS } from '../helpers/streams.js';

const ENVELOPE = {
  sourceId: 'src-1',
  runId: '20261125T131000Z',
  page: 3,
  fetchedAt: '2026-11-25T13:10:03.000Z',
};
/** The same envelope as it appears on an output line. */
const COLUMNS = {
  source: 'src-1',
  run: '20261125T131000Z',
  page: 3,
  fetchedAt: '2026-11-25T13:10:03.000Z',
};

/** A record's hash as the README defines it, computed here with node:crypto's own API. */
const sha256Prefix = (text: string) => createHash('sha256').update(text).digest('hex').slice(0, 16);

function options(format: string, extra: Partial<ParseStreamOptions> = {}): ParseStreamOptions {
  return { format, envelope: ENVELOPE, limits: TEST_LIMITS, gzipLevel: 6, ...extra };
}

async function run(text: string, opts: ParseStreamOptions) {
  const sink = memorySink();
  const stats = await parseStream(bytesSource(text, 5), sink.stream, opts);
  return { stats, bytes: sink.bytes() };
}

describe('parseStream', () => {
  it('writes gzip NDJSON with the envelope on every line', async () => {
    const text = '{"a":1}\n{"id":12345678901234567890}\n';
    const { stats, bytes } = await run(text, options('ndjson'));
    const lines = gunzipLines(bytes);
    expect(lines).toHaveLength(2);
    // gunzipLines checked each line's hash against its record and left out key = hash.
    expect(lines[0]).toEqual({ ...COLUMNS, record: { a: 1 } });
    expect(lines[1]).toMatchObject(COLUMNS);
    expect(bytes.length).toBe(stats.bytesOut);
    expect(stats).toMatchObject({ records: 2, bytesIn: Buffer.byteLength(text) });
    const { gunzipSync } = await import('node:zlib');
    // NDJSON records are written as the source wrote them: no precision lost.
    expect(gunzipSync(bytes).toString()).toContain('"record":{"id":12345678901234567890}}');
  });

  it('writes the envelope keys in a fixed order, for a JSON SerDe with flat columns', async () => {
    // Act
    const { bytes } = await run('{"b":2}\n', options('ndjson'));

    // Assess
    const { gunzipSync } = await import('node:zlib');
    expect(gunzipSync(bytes).toString()).toBe(
      `{"source":"src-1","run":"20261125T131000Z","page":3,"fetchedAt":"2026-11-25T13:10:03.000Z","key":"${sha256Prefix('{"b":2}')}","hash":"${sha256Prefix('{"b":2}')}","record":{"b":2}}\n`,
    );
  });

  it('writes page 0 when the envelope names no page', async () => {
    const { sourceId, runId, fetchedAt } = ENVELOPE;
    const { bytes } = await run(
      '{"b":2}\n',
      options('ndjson', { envelope: { sourceId, runId, fetchedAt } }),
    );
    expect(gunzipLines(bytes)).toEqual([{ ...COLUMNS, page: 0, record: { b: 2 } }]);
  });

  it('gives byte-identical output for the same input, with no timestamp in the gzip header', async () => {
    const text = 'id,name\n1,a\n2,b\n';
    const first = await run(text, options('csv'));
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const second = await run(text, options('csv'));
    expect(second.bytes.equals(first.bytes)).toBe(true);
    // Bytes 4-7 of a gzip member are MTIME.
    expect(first.bytes.readUInt32LE(4)).toBe(0);
  });

  describe('a large output (its batches reused once compressed), read by a slow consumer', () => {
    // About 6 MB of lines, two dozen of the writer's batches, every record different; the
    // consumer takes a timer turn per chunk, so zlib's input backs up while lines are written.
    const ids = Array.from({ length: 20_000 }, (_, i) => i);
    const ndjsonText = ids
      .map((i) => `{"id":${i},"text":"${'x'.repeat(i % 200)}-${i}"}\n`)
      .join('');
    const slowSink = () => {
      const parts: Buffer[] = [];
      const stream = new Writable({
        write(chunk: Buffer, _encoding, callback) {
          parts.push(chunk);
          setTimeout(callback, 1);
        },
      });
      return { stream, bytes: () => Buffer.concat(parts) };
    };
    const expectEveryRecord = (lines: unknown[]) => {
      expect(lines).toHaveLength(ids.length);
      lines.forEach((line, i) => {
        expect(line).toMatchObject({ record: { id: i, text: `${'x'.repeat(i % 200)}-${i}` } });
      });
    };

    it('keeps every line intact, the hash as key', async () => {
      const sink = slowSink();
      const stats = await parseStream(bytesSource(ndjsonText), sink.stream, options('ndjson'));
      expect(stats.linesBytes).toBeGreaterThan(5_000_000);
      expectEveryRecord(gunzipLines(sink.bytes()));
    });

    it('keeps every line intact, with a declared key', async () => {
      const sink = slowSink();
      await parseStream(
        bytesSource(ndjsonText),
        sink.stream,
        options('ndjson', { recordKey: ['id'] }),
      );
      const lines = gunzipLines(sink.bytes());
      expectEveryRecord(lines);
      expect(lines.map((line) => (line as { key?: unknown }).key)).toEqual(ids.map(String));
    });

    it('keeps every line intact in a deflate segment (a pack entry)', async () => {
      const sink = slowSink();
      const stats = await parseStream(
        bytesSource(ndjsonText),
        sink.stream,
        options('ndjson', { segment: { crcSeed: 0 } }),
      );
      const member = new GzipMemberAssembler();
      member.keep(stats);
      const gzip = Buffer.concat([member.header(), sink.bytes(), member.trailer()]);
      expectEveryRecord(gunzipLines(gzip));
    });
  });

  it('refuses an unknown format before reading anything', async () => {
    let read = false;
    const input = new Readable({
      read() {
        read = true;
        this.push(null);
      },
    });
    await expect(parseStream(input, memorySink().stream, options('yaml'))).rejects.toBeInstanceOf(
      UnknownFormatError,
    );
    expect(read).toBe(false);
  });

  it('stops reading once the object exceeds the raw size limit', async () => {
    const error = await run(
      '{"a":1}\n'.repeat(100),
      options('ndjson', { limits: { ...TEST_LIMITS, maxRawBytes: 64 } }),
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RawObjectTooLargeError);
    expect((error as RawObjectTooLargeError).location).toEqual({ byteOffset: 64 });
  });

  it('passes malformed-input errors through with their location', async () => {
    const error = await run('{"a":1}\nnope\n', options('ndjson')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MalformedInputError);
  });

  it('reports a failing custom extractor as ExtractorFailedError, not as a fault to retry', async () => {
    const extractors = createExtractorRegistry();
    extractors.register('buggy', async function* buggy() {
      yield { ok: 1 };
      throw new TypeError('cannot read x of undefined');
    });
    extractors.register('not-json', async function* notJson() {
      yield () => 1;
    });
    const bug = await run('x', options('buggy', { extractors })).catch((e: unknown) => e);
    expect(bug).toBeInstanceOf(ExtractorFailedError);
    expect((bug as Error).message).toContain('TypeError: cannot read x of undefined');
    const notJson = await run('x', options('not-json', { extractors })).catch((e: unknown) => e);
    expect(notJson).toBeInstanceOf(ExtractorFailedError);
  });

  it('rethrows a read failure as it is, so the caller can retry', async () => {
    const reset = Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
    const input = new Readable({
      read() {
        this.push('{"a":1}\n');
        this.destroy(reset);
      },
    });
    await expect(parseStream(input, memorySink().stream, options('ndjson'))).rejects.toBe(reset);
  });

  it('rethrows a write failure as it is', async () => {
    const broken = new Error('S3 unavailable');
    const output = new Writable({
      write(_chunk, _encoding, callback) {
        callback(broken);
      },
    });
    await expect(parseStream(bytesSource('{"a":1}\n'), output, options('ndjson'))).rejects.toBe(
      broken,
    );
  });
});

describe('copySource', () => {
  it('URL-encodes what S3 would misread and keeps = and / literal', () => {
    expect(copySource('b', 'raw/source=x/dt=2026-11-25/a+b c ü?.csv')).toBe(
      'b/raw/source=x/dt=2026-11-25/a%2Bb%20c%20%C3%BC%3F.csv',
    );
  });
});
