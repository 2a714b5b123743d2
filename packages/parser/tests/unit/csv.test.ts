import { describe, expect, it } from 'vitest';
import { headerKeys } from '../../src/formats/csv.js';
import { MalformedInputError, RecordTooLargeError } from '../../src/index.js';
import { extract, extractError, extractTexts } from '../helpers/streams.js';

describe('csv header names', () => {
  it('keeps every name as written and renames a repeated one .1, .2, skipping names taken', () => {
    expect(headerKeys(['a', 'a', 'b', 'a'])).toEqual(['"a"', '"a.1"', '"b"', '"a.2"']);
    expect(headerKeys(['a', 'a', 'a.1'])).toEqual(['"a"', '"a.2"', '"a.1"']);
    expect(headerKeys(['__proto__', 'constructor', ''])).toEqual([
      '"__proto__"',
      '"constructor"',
      '""',
    ]);
  });
});

describe('csv', () => {
  it('writes each record as compact JSON, escaping only what JSON must', async () => {
    const text = 'id,note\n1,"tab\there, \\ and ""q"" \u0001 é 😀"\n';
    expect(await extractTexts('csv', text, {}, { chunkBytes: 3 })).toEqual([
      '{"id":"1","note":"tab\\there, \\\\ and \\"q\\" \\u0001 é 😀"}',
    ]);
    expect(await extractTexts('csv', 'a;b\n', { header: false, delimiter: ';' })).toEqual([
      '["a","b"]',
    ]);
  });

  it('keeps a __proto__ column and every repeated column, in column order', async () => {
    const records = await extract('csv', '__proto__,a,a,b\nx,1,2,3\n');
    expect(records).toHaveLength(1);
    const [record] = records as Record<string, unknown>[];
    expect(Object.getPrototypeOf(record)).toBe(Object.prototype);
    expect(Object.entries(record ?? {})).toEqual([
      ['__proto__', 'x'],
      ['a', '1'],
      ['a.1', '2'],
      ['b', '3'],
    ]);
  });

  it('uses the header row for field names and handles quoted fields', async () => {
    const text = 'id,name,note\n1,"Smith, Ann","said ""hi""\nthen left"\n2,Bob,\n';
    expect(await extract('csv', text)).toEqual([
      { id: '1', name: 'Smith, Ann', note: 'said "hi"\nthen left' },
      { id: '2', name: 'Bob', note: '' },
    ]);
  });

  it('honours the delimiter option and skips empty lines and a BOM', async () => {
    const text = '\uFEFFa;b\r\n\r\n1;2\r\n3;4';
    expect(await extract('csv', text, { delimiter: ';' })).toEqual([
      { a: '1', b: '2' },
      { a: '3', b: '4' },
    ]);
  });

  it('yields arrays of fields when header is false', async () => {
    expect(await extract('csv', 'a,b\n1,2\n', { header: false })).toEqual([
      ['a', 'b'],
      ['1', '2'],
    ]);
  });

  it('yields nothing for empty input or a header alone', async () => {
    expect(await extract('csv', '')).toEqual([]);
    expect(await extract('csv', 'a,b\n')).toEqual([]);
  });

  it('reports an unclosed quote at the opening quote itself', async () => {
    // Prepare: the quote opens at byte 10, on line 3.
    const text = 'a,b\n1,2\n3,"four\n5,6\n';

    // Act
    const error = await extractError('csv', text);

    // Assess
    expect(error).toBeInstanceOf(MalformedInputError);
    expect(error.message).toContain('CSV_QUOTE_NOT_CLOSED');
    expect((error as MalformedInputError).location).toEqual({ line: 3, record: 1, byteOffset: 10 });
  });

  it('reports a row with the wrong number of fields at its first byte, past empty CRLF lines', async () => {
    const text = 'a,b\r\n1,2\r\n\r\n\r\n3,4,5\r\n';
    const error = await extractError('csv', text);
    expect(error.message).toContain('CSV_RECORD_INCONSISTENT_COLUMNS');
    expect((error as MalformedInputError).location).toEqual({ line: 5, record: 1, byteOffset: 14 });
  });

  it('locates errors after multi-byte text and quoted line breaks, in bytes', async () => {
    // Prepare: "é" and "東" are 2 and 3 bytes; the quoted field holds a CRLF.
    const text = 'a,b\né,"東\r\n京"\n3,"x"y\n';
    const start = Buffer.byteLength('a,b\né,"東\r\n京"\n3,"x"');

    // Act
    const error = await extractError('csv', text, { strict: true }, { chunkBytes: 3 });

    // Assess
    expect(error.message).toContain('CSV_INVALID_CLOSING_QUOTE');
    expect((error as MalformedInputError).location).toEqual({
      line: 4,
      record: 1,
      byteOffset: start,
    });
  });

  it('keeps a quote inside an unquoted field, unless strict', async () => {
    // Prepare
    const text = 'id,size,note\n1,5" disk,say "hi"\n2,"q",ok\n';

    // Act
    const records = await extract('csv', text);
    const strict = await extractError('csv', text, { strict: true });

    // Assess
    expect(records).toEqual([
      { id: '1', size: '5" disk', note: 'say "hi"' },
      { id: '2', size: 'q', note: 'ok' },
    ]);
    expect(strict.message).toContain('INVALID_OPENING_QUOTE');
    expect((strict as MalformedInputError).location).toEqual({
      line: 2,
      record: 0,
      byteOffset: Buffer.byteLength('id,size,note\n1,5'),
    });
  });

  it('keeps CRLF inside quoted fields', async () => {
    const text = 'id,text\r\n1,"line one\r\nline two"\r\n2,"a\r\n\r\nb"\r\n';
    expect(await extract('csv', text, {}, { chunkBytes: 4 })).toEqual([
      { id: '1', text: 'line one\r\nline two' },
      { id: '2', text: 'a\r\n\r\nb' },
    ]);
  });

  it('accepts ragged rows only with relaxColumnCount', async () => {
    const text = 'a,b\n1\n2,3,4\n';
    expect(await extract('csv', text, { relaxColumnCount: true, header: false })).toEqual([
      ['a', 'b'],
      ['1'],
      ['2', '3', '4'],
    ]);
    expect((await extractError('csv', text)).message).toContain('CSV_RECORD_INCONSISTENT_COLUMNS');
  });

  it('rejects a field over the record limit', async () => {
    const error = await extractError('csv', `a\n${'x'.repeat(300)}\n`, {}, { maxRecordBytes: 100 });
    expect(error).toBeInstanceOf(RecordTooLargeError);
  });
});
