import { describe, expect, it } from 'vitest';
import { MalformedInputError, RecordTooLargeError } from '../../src/index.js';
import { extract, extractError } from '../helpers/streams.js';

describe('ndjson', () => {
  it('yields one record per line, skipping blank lines and handling CRLF and a BOM', async () => {
    const text = '\uFEFF{"a":1}\r\n\r\n  \n[1,2]\n"text"\n{"b":{"c":null}}';
    expect(await extract('ndjson', text)).toEqual([{ a: 1 }, [1, 2], 'text', { b: { c: null } }]);
  });

  it('keeps lines split across many reads intact, multi-byte characters included', async () => {
    const text = '{"name":"Grüße 東京 🎉"}\n{"name":"second"}\n';
    for (const chunkBytes of [1, 2, 3, 5, 64]) {
      expect(await extract('ndjson', text, {}, { chunkBytes })).toEqual([
        { name: 'Grüße 東京 🎉' },
        { name: 'second' },
      ]);
    }
  });

  it('keeps a line only JSON.parse reads (nesting deeper than the byte check goes) as it was', async () => {
    const deep = `${'['.repeat(600)}${']'.repeat(600)}`;
    const records = await extract(
      'ndjson',
      `{"a":1}\n  ${deep} \n{"b":2}\n`,
      {},
      { chunkBytes: 64 },
    );
    expect(records).toEqual([{ a: 1 }, JSON.parse(deep), { b: 2 }]);
  });

  it('yields nothing for empty input', async () => {
    expect(await extract('ndjson', '')).toEqual([]);
    expect(await extract('ndjson', '\n\n')).toEqual([]);
  });

  it('reports a bad line with its line number, byte offset and record index', async () => {
    const text = '{"a":1}\n\n{"a":2}\n{"a":3,}\n{"a":4}\n';
    const error = await extractError('ndjson', text);
    expect(error).toBeInstanceOf(MalformedInputError);
    expect((error as MalformedInputError).location).toEqual({ line: 4, byteOffset: 17, record: 2 });
    expect(error.message).toMatch(
      /^malformed ndjson at line 4, record 2, byte 17: line is not valid JSON/,
    );
  });

  it('reports a truncated last line', async () => {
    const error = await extractError('ndjson', '{"a":1}\n{"a":');
    expect((error as MalformedInputError).location).toEqual({ line: 2, byteOffset: 8, record: 1 });
  });

  it('rejects a line over the record limit without buffering the rest of it', async () => {
    const text = `{"a":1}\n{"big":"${'x'.repeat(500)}"}\n{"a":2}\n`;
    const error = await extractError('ndjson', text, {}, { maxRecordBytes: 100 });
    expect(error).toBeInstanceOf(RecordTooLargeError);
    expect((error as RecordTooLargeError).location).toEqual({ line: 2, byteOffset: 8 });
  });
});
