import type { FormatOptions } from '@fanout/shared';
import { describe, expect, it } from 'vitest';
import {
  bytesSource,
  charsetOf,
  decideEncoding,
  encodingForLabel,
  MalformedInputError,
  parseStream,
  UndecodableInputError,
  UnknownCharsetError,
  Utf8Transcoder,
  undeclaredFallback,
  WINDOWS_1252_FALLBACK,
  xmlDeclaredEncoding,
} from '../../src/index.js';
import { gunzipLines, memorySink, TEST_LIMITS } from '../helpers/streams.js';

const ENVELOPE = { sourceId: 'src', runId: '20261125T131000Z', fetchedAt: '2026-11-25T13:10:03Z' };

/** Bytes of text whose characters are all below U+0100: one byte each, as Latin-1 writes them. */
const latin1 = (text: string) => Buffer.from(text, 'latin1');

async function parse(
  body: Buffer,
  format: string,
  { contentType, formatOptions, chunkBytes = 5 }: ParseSettings = {},
): Promise<unknown[]> {
  const sink = memorySink();
  await parseStream(bytesSource(body, chunkBytes), sink.stream, {
    format,
    envelope: ENVELOPE,
    limits: TEST_LIMITS,
    gzipLevel: 1,
    ...(contentType !== undefined ? { contentType } : {}),
    ...(formatOptions !== undefined ? { formatOptions } : {}),
  });
  return gunzipLines(sink.bytes()).map((line) => (line as { record: unknown }).record);
}

interface ParseSettings {
  contentType?: string;
  formatOptions?: FormatOptions;
  chunkBytes?: number;
}

async function parseError(body: Buffer, format: string, settings: ParseSettings = {}) {
  try {
    await parse(body, format, settings);
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected the parse to fail');
}

describe('deciding the encoding', () => {
  it('reads the charset parameter of a content type, quoted or not, in any case', () => {
    expect(charsetOf('text/csv; charset=ISO-8859-1')).toBe('ISO-8859-1');
    expect(charsetOf('application/rss+xml;Charset="windows-1252"; q=1')).toBe('windows-1252');
    expect(charsetOf('application/json')).toBeUndefined();
    expect(charsetOf(undefined)).toBeUndefined();
  });

  it('maps labels as WHATWG does', () => {
    expect(encodingForLabel('iso-8859-1')).toBe('windows-1252');
    expect(encodingForLabel('latin1')).toBe('windows-1252');
    expect(encodingForLabel('US-ASCII')).toBe('windows-1252');
    expect(encodingForLabel('gb2312')).toBe('gbk');
    expect(encodingForLabel('sjis')).toBe('shift_jis');
    expect(encodingForLabel('utf-16')).toBe('utf-16le');
    expect(encodingForLabel('x-no-such-charset')).toBeUndefined();
  });

  it('takes a BOM first, then the HTTP charset, then the XML declaration, else UTF-8', () => {
    const declared = Buffer.from('<?xml version="1.0" encoding="ISO-8859-1"?><rss/>');
    const bom = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), declared]);
    expect(decideEncoding(bom, 'text/xml; charset=shift_jis')).toEqual({
      encoding: 'utf-8',
      decidedBy: 'bom',
      bomBytes: 3,
    });
    expect(decideEncoding(declared, 'text/xml; charset=shift_jis')).toMatchObject({
      encoding: 'shift_jis',
      decidedBy: 'content-type',
    });
    expect(decideEncoding(declared, 'text/xml')).toMatchObject({
      encoding: 'windows-1252',
      decidedBy: 'xml-declaration',
      label: 'ISO-8859-1',
    });
    expect(decideEncoding(Buffer.from('<rss/>'))).toMatchObject({
      encoding: 'utf-8',
      decidedBy: 'default',
    });
    expect(decideEncoding(Buffer.from([0xfe, 0xff, 0, 0x3c]))).toMatchObject({
      encoding: 'utf-16be',
      bomBytes: 2,
    });
  });

  it('finds the declaration after whitespace, and reads an ASCII-readable UTF-16 declaration as UTF-8', () => {
    expect(xmlDeclaredEncoding(Buffer.from("\n  <?xml version='1.0' encoding='euc-jp'?>"))).toBe(
      'euc-jp',
    );
    expect(xmlDeclaredEncoding(Buffer.from('<?xml version="1.0"?><a encoding="x"/>'))).toBe(
      undefined,
    );
    expect(decideEncoding(Buffer.from('<?xml version="1.0" encoding="UTF-16"?>'))).toMatchObject({
      encoding: 'utf-8',
    });
  });
});

describe('decoding to UTF-8 before parsing', () => {
  const latin1Rss = (declaration: string) =>
    latin1(
      `${declaration}<rss version="2.0"><channel><title>Caf\u00e9s</title>\n` +
        '<item><title>Cr\u00e8me br\u00fbl\u00e9e \u00e0 50\u00a0\u00a3</title>' +
        '<description>\u00bfQu\u00e9 pas\u00f3? \u00a9 Ni\u00f1o</description></item>\n' +
        '</channel></rss>\n',
    );

  it('reads a Latin-1 RSS feed by its XML declaration (no HTTP charset)', async () => {
    // Prepare
    const body = latin1Rss('<?xml version="1.0" encoding="ISO-8859-1"?>\n');

    // Act
    const records = await parse(body, 'rss', { contentType: 'application/rss+xml' });

    // Assess
    expect(records).toEqual([
      {
        title: 'Cr\u00e8me br\u00fbl\u00e9e \u00e0 50\u00a0\u00a3',
        summary: '\u00bfQu\u00e9 pas\u00f3? \u00a9 Ni\u00f1o',
      },
    ]);
  });

  it('reads a Latin-1 RSS feed with no declaration by the HTTP charset', async () => {
    const body = latin1Rss('');
    const records = await parse(body, 'rss', {
      contentType: 'application/rss+xml; charset=iso-8859-1',
    });
    expect(records).toEqual([
      {
        title: 'Cr\u00e8me br\u00fbl\u00e9e \u00e0 50\u00a0\u00a3',
        summary: '\u00bfQu\u00e9 pas\u00f3? \u00a9 Ni\u00f1o',
      },
    ]);
  });

  it('reads Windows-1252 smart quotes (0x93, 0x94) in CSV', async () => {
    // Prepare: 0x93 and 0x94 are C1 controls in ISO-8859-1 but quotes in Windows-1252.
    const body = Buffer.concat([
      latin1('id,quote\n1,'),
      Buffer.from([0x93]),
      latin1('Hello'),
      Buffer.from([0x94]),
      latin1(' \u00e9t\u00e9\n2,'),
      Buffer.from([0x80, 0x20, 0x35]),
      latin1('\n'),
    ]);

    // Act
    const records = await parse(body, 'csv', { contentType: 'text/csv; charset=windows-1252' });

    // Assess
    expect(records).toEqual([
      { id: '1', quote: '\u201cHello\u201d \u00e9t\u00e9' },
      { id: '2', quote: '\u20ac 5' },
    ]);
  });

  it('reads Shift_JIS JSON named by the HTTP charset, a trail byte 0x5C included', async () => {
    // Prepare: 東京 = 93 8C 8B 9E; 表 = 95 5C (its trail byte is ASCII "\"); ｱ = B1.
    const body = Buffer.concat([
      Buffer.from('[{"city":"'),
      Buffer.from([0x93, 0x8c, 0x8b, 0x9e]),
      Buffer.from('","sign":"'),
      Buffer.from([0x95, 0x5c]),
      Buffer.from('"},{"kana":"'),
      Buffer.from([0xb1]),
      Buffer.from('"}]'),
    ]);

    // Act: chunks of 3 bytes split the two-byte characters.
    const records = await parse(body, 'json', {
      contentType: 'application/json; charset=Shift_JIS',
      chunkBytes: 3,
    });

    // Assess
    expect(records).toEqual([{ city: '東京', sign: '表' }, { kana: 'ｱ' }]);
  });

  it('reads UTF-16LE with a BOM, JSON and XML', async () => {
    const json = Buffer.from('\uFEFF[{"name":"Gr\u00fc\u00dfe 東京 😀"}]', 'utf16le');
    expect(await parse(json, 'json', { chunkBytes: 3 })).toEqual([{ name: 'Grüße 東京 😀' }]);

    const xml = Buffer.from(
      '\uFEFF<?xml version="1.0" encoding="UTF-16"?><rss><channel><item><title>\u00c5 😀</title></item></channel></rss>',
      'utf16le',
    );
    expect(await parse(xml, 'rss', { chunkBytes: 7 })).toEqual([{ title: 'Å 😀' }]);
  });

  it('passes UTF-8 through and drops its BOM', async () => {
    const body = Buffer.from('\uFEFF{"a":"é"}\n{"b":"東"}\n');
    expect(await parse(body, 'ndjson', { chunkBytes: 2 })).toEqual([{ a: 'é' }, { b: '東' }]);
  });
});

describe('bytes that the encoding cannot decode', () => {
  // "caf\xE9" is Latin-1, not UTF-8: 0xE9 starts a three-byte sequence that "\n" breaks.
  const body = Buffer.concat([
    Buffer.from('id,name\n1,ok\n2,caf'),
    Buffer.from([0xe9]),
    Buffer.from('\n3,x\n'),
  ]);
  const badOffset = Buffer.byteLength('id,name\n1,ok\n2,caf');

  it('quarantines invalid UTF-8 of a strict source with the encoding, the line and the offset of the bad byte', async () => {
    for (const chunkBytes of [1, 4, 64]) {
      // Act
      const error = await parseError(body, 'csv', { chunkBytes, formatOptions: { strict: true } });

      // Assess
      expect(error).toBeInstanceOf(UndecodableInputError);
      expect(error.message).toContain('invalid utf-8 (from default) at line 3, byte 18');
      expect(error.message).toContain('cannot decode the bytes e9 0a 33 2c');
      expect((error as UndecodableInputError).location).toEqual({ line: 3, byteOffset: badOffset });
    }
  });

  it('locates a truncated sequence at the end, and bad bytes after a BOM and multi-byte text', async () => {
    const truncated = Buffer.concat([Buffer.from('{"a":"東"}\n{"b":"'), Buffer.from([0xe6, 0x9d])]);
    const error = await parseError(truncated, 'ndjson', { chunkBytes: 4 });
    expect((error as UndecodableInputError).location).toEqual({
      line: 2,
      byteOffset: truncated.length - 2,
    });

    const withBom = Buffer.concat([
      Buffer.from('\uFEFF"東京"\n"x'),
      Buffer.from([0xc3, 0x28]),
      Buffer.from('"\n'),
    ]);
    const second = await parseError(withBom, 'ndjson', { chunkBytes: 3 });
    expect((second as UndecodableInputError).location).toEqual({ line: 2, byteOffset: 14 });
    expect(second.message).toContain('invalid utf-8 (from bom)');
  });

  it('locates an invalid Shift_JIS trail byte in the original bytes', async () => {
    // 0x81 needs a trail byte of 0x40-0xFC; a space cannot be one.
    const sjis = Buffer.concat([
      Buffer.from('a,b\n'),
      Buffer.from([0x93, 0x8c]),
      Buffer.from(',x\ny,'),
      Buffer.from([0x81, 0x20]),
      Buffer.from('\n'),
    ]);
    const error = await parseError(sjis, 'csv', {
      contentType: 'text/csv; charset=shift_jis',
      chunkBytes: 3,
    });
    expect(error).toBeInstanceOf(UndecodableInputError);
    expect(error.message).toContain('invalid shift_jis (from content-type)');
    expect((error as UndecodableInputError).location).toEqual({ line: 3, byteOffset: 11 });
  });

  it('accepts the same bytes as U+FFFD when the source opts into replacement', async () => {
    const records = await parse(body, 'csv', { formatOptions: { invalidBytes: 'replace' } });
    expect(records).toEqual([
      { id: '1', name: 'ok' },
      { id: '2', name: 'caf\uFFFD' },
      { id: '3', name: 'x' },
    ]);
  });

  it('quarantines an unknown charset label, naming it', async () => {
    const error = await parseError(Buffer.from('a\n1\n'), 'csv', {
      contentType: 'text/csv; charset=x-klingon',
    });
    expect(error).toBeInstanceOf(UnknownCharsetError);
    expect(error.message).toBe(
      'unknown or unsupported charset "x-klingon" (declared in the content-type)',
    );

    const declared = await parseError(
      Buffer.from('<?xml version="1.0" encoding="x-mac-klingon"?><rss/>'),
      'rss',
    );
    expect(declared.message).toContain('"x-mac-klingon" (declared in the XML declaration)');
  });
});

describe('error locations of decoded text', () => {
  // Five Latin-1 letters before the problem: one byte each in the body, two in the UTF-8
  // the extractor reads.
  it.each([
    // NDJSON reports the start of the bad line.
    ['ndjson', '"a"\n"\u00e9\u00e9\u00e9\u00e9\u00e9"\n{"x":\n', 3, 12],
    // JSON reports the offending byte: the stray `x` (byte 18 of the UTF-8).
    ['json', '[\n"\u00e9\u00e9\u00e9\u00e9\u00e9",\n  x]', 3, 13],
  ])(
    'names the byte offset in the original bytes of %s, not in the UTF-8 text',
    async (format, text, line, byteOffset) => {
      // Act
      const error = await parseError(latin1(text), format, {
        contentType: `application/${format}; charset=latin1`,
      });

      // Assess
      expect(error).toBeInstanceOf(MalformedInputError);
      expect((error as MalformedInputError).location).toMatchObject({ line, byteOffset });
    },
  );
});

describe('Utf8Transcoder.originalOffset', () => {
  it('maps UTF-8 output offsets back exactly within the last MiB, and gives up before it', async () => {
    // Prepare: 2 MiB of "é" (one byte in Latin-1, two in UTF-8), in 64 KiB chunks.
    const body = Buffer.alloc(2 * 1024 * 1024, 0xe9);
    const transcoder = new Utf8Transcoder('text/plain; charset=latin1', 'fatal');

    // Act
    let output = 0;
    for await (const chunk of transcoder.transcode(bytesSource(body))) output += chunk.length;

    // Assess
    expect(output).toBe(2 * body.length);
    expect(transcoder.originalOffset(output)).toBe(body.length);
    expect(transcoder.originalOffset(output - 2 * 1000)).toBe(body.length - 1000);
    expect(transcoder.originalOffset(2 * 10)).toBeUndefined();
  });
});

describe('no charset declared and not UTF-8: read as windows-1252', () => {
  // "caf\xE9" and smart quotes as a Windows editor saves them, no declaration anywhere.
  const body = latin1('id,name\n1,ok\n2,caf\xe9 \x93quoted\x94\n3,\x80 5\n');

  it('decodes the whole body as windows-1252, whatever the chunking, and says so', async () => {
    for (const chunkBytes of [1, 4, 64 * 1024]) {
      // Prepare
      const sink = memorySink();

      // Act
      const stats = await parseStream(bytesSource(body, chunkBytes), sink.stream, {
        format: 'csv',
        formatOptions: { header: true },
        envelope: ENVELOPE,
        limits: TEST_LIMITS,
        gzipLevel: 1,
      });

      // Assess
      const records = gunzipLines(sink.bytes()).map((line) => (line as { record: unknown }).record);
      expect(records).toEqual([
        { id: '1', name: 'ok' },
        { id: '2', name: 'café “quoted”' },
        { id: '3', name: '€ 5' },
      ]);
      expect(stats.decodedAs).toBe(WINDOWS_1252_FALLBACK);
      expect(WINDOWS_1252_FALLBACK).toBe('decoded as windows-1252: not UTF-8, no charset declared');
    }
  });

  it('leaves UTF-8 and declared encodings alone, with no note', async () => {
    const sink = memorySink();
    const stats = await parseStream(bytesSource(Buffer.from('"café"\n')), sink.stream, {
      format: 'ndjson',
      envelope: ENVELOPE,
      limits: TEST_LIMITS,
      gzipLevel: 1,
    });
    expect(stats.decodedAs).toBeUndefined();
    // Declared UTF-8 (HTTP charset): its invalid bytes are an error, not a fallback.
    const error = await parseError(latin1('"caf\xe9"\n'), 'ndjson', {
      contentType: 'application/x-ndjson; charset=utf-8',
    });
    expect(error.message).toContain('invalid utf-8 (from content-type)');
  });

  it('applies only to an undeclared UTF-8 decision of a source that is not strict', () => {
    const undeclared = { encoding: 'utf-8', decidedBy: 'default', bomBytes: 0 } as const;
    expect(undeclaredFallback(undeclared, {})).toEqual({
      encoding: 'windows-1252',
      decidedBy: 'fallback',
      bomBytes: 0,
    });
    expect(undeclaredFallback(undeclared, { strict: true })).toBeUndefined();
    for (const decidedBy of ['bom', 'content-type', 'xml-declaration'] as const) {
      expect(undeclaredFallback({ ...undeclared, decidedBy }, {})).toBeUndefined();
    }
  });

  it('quarantines a body whose UTF-8 text comes before the bad byte: it mixes encodings', async () => {
    // Act
    const error = await parseError(
      Buffer.concat([Buffer.from('"ü"\n"caf'), Buffer.from([0xe9]), Buffer.from('"\n')]),
      'ndjson',
    );

    // Assess
    expect(error).toBeInstanceOf(UndecodableInputError);
    expect(error.message).toContain('not read as windows-1252 either');
    expect((error as UndecodableInputError).location).toEqual({ line: 2, byteOffset: 9 });
  });

  it('names offsets in the original bytes after the switch', async () => {
    // Five windows-1252 letters (two UTF-8 bytes each) before the stray `x`.
    const error = await parseError(latin1('[\n"\xe9\xe9\xe9\xe9\xe9",\n  x]'), 'json');
    expect(error).toBeInstanceOf(MalformedInputError);
    expect((error as MalformedInputError).location).toMatchObject({ line: 3, byteOffset: 13 });
  });
});
