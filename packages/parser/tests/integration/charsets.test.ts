import { gzipSync } from 'node:zlib';
import {
  fromParsedObjectMetadata,
  parsedKeyForRaw,
  type QuarantineReport,
  quarantineReportKeyForEntry,
} from '@fanout/shared';
import { fakeContext, startTestS3, type TestS3 } from '@fanout/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { handleS3Event } from '../../src/index.js';
import { entryLine, putPack } from '../helpers/packs.js';
import { depsFor, FETCHED_AT, putRaw, RUN_ID, s3Event } from '../helpers/s3.js';
import { gunzipLines } from '../helpers/streams.js';

let s3: TestS3;

beforeAll(async () => {
  s3 = await startTestS3();
});
afterAll(async () => {
  await s3.stop();
});

function line(source: string, record: unknown) {
  return { source, run: RUN_ID, page: 0, fetchedAt: FETCHED_AT, record };
}

/** Bytes of text whose characters are all below U+0100, one byte each, as Latin-1 writes them. */
const latin1 = (text: string) => Buffer.from(text, 'latin1');

const LATIN1_ITEM =
  '<rss version="2.0"><channel><title>Caf\u00e9</title>\n' +
  '<item><title>Cr\u00e8me br\u00fbl\u00e9e, 5\u00a0\u00a3</title><guid>\u00e9-1</guid></item>\n' +
  '</channel></rss>\n';
const LATIN1_RECORD = { id: '\u00e9-1', title: 'Cr\u00e8me br\u00fbl\u00e9e, 5\u00a0\u00a3' };

describe('character sets and real-world input, pack entries through s3rver', () => {
  it('parses every entry into the exact records, whatever its encoding', async () => {
    // Prepare
    const entries = [
      {
        sourceId: 'latin1-declared',
        format: 'rss',
        contentType: 'application/rss+xml',
        body: latin1(`<?xml version="1.0" encoding="ISO-8859-1"?>\n${LATIN1_ITEM}`),
      },
      {
        sourceId: 'latin1-http',
        format: 'rss',
        contentType: 'application/rss+xml; charset=iso-8859-1',
        body: latin1(LATIN1_ITEM),
      },
      {
        sourceId: 'smart-quotes',
        format: 'csv',
        contentType: 'text/csv; charset=windows-1252',
        body: Buffer.concat([
          latin1('id,said\n1,'),
          Buffer.from([0x93]),
          latin1('Na\u00efve'),
          Buffer.from([0x94]),
          latin1('\n'),
        ]),
      },
      {
        sourceId: 'sjis',
        format: 'json',
        contentType: 'application/json; charset=shift_jis',
        // {"city":"東京","sign":"表"}: 表 is 95 5C, its trail byte is ASCII "\".
        body: Buffer.concat([
          Buffer.from('{"city":"'),
          Buffer.from([0x93, 0x8c, 0x8b, 0x9e]),
          Buffer.from('","sign":"'),
          Buffer.from([0x95, 0x5c]),
          Buffer.from('"}'),
        ]),
      },
      {
        sourceId: 'utf16',
        format: 'json',
        contentType: 'application/json',
        body: Buffer.from('\uFEFF[{"name":"Gr\u00fc\u00dfe 😀"}]', 'utf16le'),
      },
      {
        sourceId: 'spaced-feed',
        format: 'rss',
        body: '\n \n<?xml version="1.0" encoding="utf-8"?>\n<rss><channel><item><title>Lead&nbsp;space &eacute;t&eacute; &copy;</title></item></channel></rss>',
      },
      {
        sourceId: 'csv-quotes',
        format: 'csv',
        body: 'id,size,text\r\n1,5" disk,"two\r\nlines"\r\n2,"plain",say "hi"\r\n',
      },
    ];
    const { key } = await putPack(s3, entries.map(entryLine));
    const { deps } = depsFor(s3);

    // Act
    const summary = await handleS3Event(s3Event(s3.bucket, key), fakeContext(), deps);

    // Assess
    expect(summary.pagesQuarantined).toBe(0);
    expect(gunzipLines(await s3.getBytes(parsedKeyForRaw(key)))).toEqual([
      line('latin1-declared', LATIN1_RECORD),
      line('latin1-http', LATIN1_RECORD),
      line('smart-quotes', { id: '1', said: '\u201cNa\u00efve\u201d' }),
      line('sjis', { city: '東京', sign: '表' }),
      line('utf16', { name: 'Grüße 😀' }),
      line('spaced-feed', { title: 'Lead\u00a0space \u00e9t\u00e9 \u00a9' }),
      line('csv-quotes', { id: '1', size: '5" disk', text: 'two\r\nlines' }),
      line('csv-quotes', { id: '2', size: 'plain', text: 'say "hi"' }),
    ]);
  });

  it('reads undeclared Latin-1 as windows-1252, quarantines it when strict, and an unknown charset alone', async () => {
    // Prepare: "caf\xE9" is Latin-1 sent without a charset: not UTF-8, and nothing declared.
    const invalid = Buffer.concat([Buffer.from('id,name\n1,ok\n2,caf'), Buffer.from([0xe9])]);
    const entries = [
      { sourceId: 'undeclared', format: 'csv', body: invalid },
      { sourceId: 'bad-utf8', format: 'csv', formatOptions: { strict: true }, body: invalid },
      {
        sourceId: 'odd-charset',
        format: 'csv',
        contentType: 'text/csv; charset=x-ebcdic-klingon',
        body: 'id\n1\n',
      },
      {
        sourceId: 'replaced',
        format: 'csv',
        formatOptions: { invalidBytes: 'replace' as const },
        body: invalid,
      },
    ];
    const { key } = await putPack(s3, entries.map(entryLine));
    const { deps } = depsFor(s3);

    // Act
    await handleS3Event(s3Event(s3.bucket, key), fakeContext(), deps);

    // Assess
    expect(gunzipLines(await s3.getBytes(parsedKeyForRaw(key)))).toEqual([
      line('undeclared', { id: '1', name: 'ok' }),
      line('undeclared', { id: '2', name: 'caf\u00e9' }),
      line('replaced', { id: '1', name: 'ok' }),
      line('replaced', { id: '2', name: 'caf\uFFFD' }),
    ]);
    const outcome = fromParsedObjectMetadata((await s3.head(parsedKeyForRaw(key)))?.metadata);
    expect(outcome?.quarantinedPages).toEqual(['bad-utf8-p0000', 'odd-charset-p0000']);
    expect(outcome?.windows1252Pages).toEqual(['undeclared-p0000']);

    const bad = await s3.getJson<QuarantineReport>(quarantineReportKeyForEntry(key, 'bad-utf8', 0));
    expect(bad.errorName).toBe('UndecodableInputError');
    expect(bad.location).toEqual({ line: 3, byteOffset: 18 });
    expect(bad.reason).toContain('invalid utf-8 (from default) at line 3, byte 18');

    const odd = await s3.getJson<QuarantineReport>(
      quarantineReportKeyForEntry(key, 'odd-charset', 0),
    );
    expect(odd.errorName).toBe('UnknownCharsetError');
    expect(odd.reason).toContain('"x-ebcdic-klingon"');
    expect(odd.metadata).toMatchObject({ 'content-type': 'text/csv; charset=x-ebcdic-klingon' });
  });
});

describe('pack entries that still have a Content-Encoding (s3rver)', () => {
  it('parses a gzip entry and quarantines a compression bomb alone', async () => {
    // Prepare: the bomb decodes to 1 MiB, over a 200 000-byte FANOUT_MAX_RAW_BYTES.
    const lines = [
      entryLine({
        sourceId: 'gzipped',
        format: 'csv',
        contentType: 'text/csv; charset=iso-8859-1',
        contentEncoding: 'gzip',
        body: gzipSync(latin1('id,name\n1,Jos\u00e9\n')),
      }),
      entryLine({
        sourceId: 'bomb',
        format: 'ndjson',
        contentEncoding: 'gzip',
        body: gzipSync(Buffer.alloc(1024 * 1024, 0x0a)),
      }),
    ];
    const { key } = await putPack(s3, lines);
    const { deps } = depsFor(s3, { maxRawBytes: 200_000 });

    // Act
    await handleS3Event(s3Event(s3.bucket, key), fakeContext(), deps);

    // Assess
    expect(gunzipLines(await s3.getBytes(parsedKeyForRaw(key)))).toEqual([
      line('gzipped', { id: '1', name: 'Jos\u00e9' }),
    ]);
    const report = await s3.getJson<QuarantineReport>(quarantineReportKeyForEntry(key, 'bomb', 0));
    expect(report.errorName).toBe('ContentEncodingError');
    expect(report.metadata).toMatchObject({ format: 'ndjson', 'content-encoding': 'gzip' });
    expect(report.reason).toContain('the decoded body passed the 200000-byte limit');
  });
});

describe('character sets, single raw objects through s3rver', () => {
  it('decodes a single by the charset of its upstream content type', async () => {
    // Prepare
    const body = latin1('id,name\n1,Jos\u00e9\n2,Fran\u00e7ois\n');
    const key = await putRaw(s3, 'single-latin1', 'csv', body, {
      extension: 'csv',
      contentType: 'text/csv; charset=ISO-8859-1',
    });
    const { deps } = depsFor(s3);

    // Act
    await handleS3Event(s3Event(s3.bucket, key), fakeContext(), deps);

    // Assess
    expect(gunzipLines(await s3.getBytes(parsedKeyForRaw(key)))).toEqual([
      line('single-latin1', { id: '1', name: 'Jos\u00e9' }),
      line('single-latin1', { id: '2', name: 'Fran\u00e7ois' }),
    ]);
  });
});
