import { describe, expect, it } from 'vitest';
import { MalformedInputError, RecordTooLargeError } from '../../src/index.js';
import { extract, extractError, extractTexts } from '../helpers/streams.js';

describe("json: records are the document's own bytes", () => {
  it.each([1, 3, 1 << 16])(
    'keeps numbers, escapes, key order, duplicates and __proto__ exactly (chunks of %i bytes)',
    async (chunkBytes) => {
      const text =
        '[{"n":12345678901234567890123,"f":1e400,"z":-0,"e":1.50E+3},\n  {"__proto__":{"polluted":"yes"},"b":1,"a":2,"a":3},\n  "caf\\u00e9 \\"q\\" \\/",\n  [ 1 , [ ] , { } ], null]';
      expect(await extractTexts('json', text, {}, { chunkBytes })).toEqual([
        '{"n":12345678901234567890123,"f":1e400,"z":-0,"e":1.50E+3}',
        '{"__proto__":{"polluted":"yes"},"b":1,"a":2,"a":3}',
        '"caf\\u00e9 \\"q\\" \\/"',
        '[1,[],{}]',
        'null',
      ]);
    },
  );

  it('leaves out whitespace between tokens, JavaScript whitespace included, never inside strings', async () => {
    const text = '{"items": [\r\n\t{ "a" :\u00a0"x  y" ,\v"b":\u3000[ 1 ,2 ] }\r\n]}';
    expect(await extractTexts('json', text, { recordsPath: 'items' }, { chunkBytes: 2 })).toEqual([
      '{"a":"x  y","b":[1,2]}',
    ]);
  });

  it('finds the records path through keys written with escapes and through array indexes', async () => {
    const text = '{"d\\u0061ta":[{"items":[1]},{"items":[2,3]}],"data.items":[9]}';
    expect(await extractTexts('json', text, { recordsPath: 'data.1.items' })).toEqual(['2', '3']);
    expect(await extractTexts('json', text, { recordsPath: 'data' })).toEqual([
      '{"items":[1]}',
      '{"items":[2,3]}',
    ]);
  });

  it('gives a root object, or a scalar at the path, as one record', async () => {
    expect(await extractTexts('json', ' {"a": 1} ')).toEqual(['{"a":1}']);
    expect(await extractTexts('json', '{"meta":{"n":-0.0}}', { recordsPath: 'meta.n' })).toEqual([
      '-0.0',
    ]);
    expect(await extractTexts('json', '42')).toEqual(['42']);
  });

  it('refuses nesting deeper than 1,000 levels with a reason, without recursion', async () => {
    const deep = `${'['.repeat(100_000)}${']'.repeat(100_000)}`;
    const error = await extractError('json', deep, {}, { chunkBytes: 4096 });
    expect(error).toBeInstanceOf(MalformedInputError);
    expect(error.message).toBe(
      'malformed json at line 1, record 0, byte 1000: nesting deeper than 1000 levels (the parser\'s limit: most JSON readers, Python\'s among them, stop near it), found "["',
    );
    const limit = `[${'['.repeat(999)}${']'.repeat(999)}]`;
    expect(await extractTexts('json', limit, {}, { chunkBytes: 100 })).toHaveLength(1);
  });
});

describe('json', () => {
  it('yields the elements of a root array one by one', async () => {
    const text = '[1, {"a": [1, 2, {"b": null}]}, "x", true, {"n": -1.5e3}]';
    expect(await extract('json', text)).toEqual([
      1,
      { a: [1, 2, { b: null }] },
      'x',
      true,
      { n: -1500 },
    ]);
  });

  it('treats a root object as one record', async () => {
    expect(await extract('json', '{"a": {"b": [1]}}')).toEqual([{ a: { b: [1] } }]);
  });

  it('yields the elements at recordsPath and ignores the rest of the document', async () => {
    const text = '{"meta":{"items":[9]},"data":{"items":[{"id":1},{"id":2}]},"after":[{"id":3}]}';
    expect(await extract('json', text, { recordsPath: 'data.items' })).toEqual([
      { id: 1 },
      { id: 2 },
    ]);
    expect(await extract('json', '{"data":{"items":[]}}', { recordsPath: 'data.items' })).toEqual(
      [],
    );
  });

  it('reports a recordsPath that is not in the document', async () => {
    const error = await extractError('json', '{"data":{}}', { recordsPath: 'data.items' });
    expect(error.message).toContain('no value at recordsPath "data.items"');
  });

  it('reports truncated JSON with the index of the record it was reading', async () => {
    const error = await extractError('json', '[{"a":1},{"a":2},{"a":');
    expect(error).toBeInstanceOf(MalformedInputError);
    // A lower bound: stream-json drops tokens it read ahead when it fails.
    expect((error as MalformedInputError).location?.record).toBeLessThanOrEqual(2);
    expect(error.message).toContain('malformed json');
  });

  it('reports trailing garbage and empty input', async () => {
    expect((await extractError('json', '[1,2] x')).message).toContain(
      'expected the end of the document, found "x"',
    );
    expect((await extractError('json', '')).message).toBe(
      'malformed json at byte 0: empty document',
    );
    expect((await extractError('json', ' \n ')).message).toContain('empty document');
  });

  it.each([
    ['a missing value', '[{"a":1},{"b":}]', 1, 14, 'expected a value, found "}"'],
    ['a trailing comma', '{\n  "a": [1, 2,\n  ]\n}', 3, 18, 'expected a value, found "]"'],
    ['a missing colon', '[\r\n {"id": 1},\r\n {"id" 2}\r\n]', 3, 23, 'expected ":", found "2"'],
    ['a wrong closing bracket', '{"items": [1, 2}', 1, 15, 'expected "," or "]", found "}"'],
    ['a leading zero', '[10, 01]', 1, 6, 'expected "," or "]", found "1"'],
    ['a misspelt literal', '[true, nul]', 1, 10, 'found "]"'],
    [
      'a bad escape',
      '{"a": "x\\q"}',
      1,
      9,
      'expected an escape character (one of "\\/bfnrtu), found "q"',
    ],
    [
      'a raw tab in a string',
      '["a\tb"]',
      1,
      3,
      'a control character must be escaped in a string, found byte 0x09',
    ],
    ['a non-ASCII character', '{"café": 1,\n é}', 2, 14, 'expected a key (a string), found "é"'],
    [
      'garbage after the document',
      '[1]\n\n  x',
      3,
      7,
      'expected the end of the document, found "x"',
    ],
    ['a truncated document', '[{"a":1},\n{"a":', 2, 15, 'found end of input'],
  ])('names the exact line and byte of %s', async (_case, text, line, byteOffset, problem) => {
    // Act: chunks of 1 and 7 bytes put every token across chunk boundaries somewhere.
    const errors = [
      await extractError('json', text, {}, { chunkBytes: 1 }),
      await extractError('json', text, {}, { chunkBytes: 7 }),
      await extractError('json', text, {}, { chunkBytes: 1 << 16 }),
    ];

    // Assess
    for (const error of errors) {
      expect(error).toBeInstanceOf(MalformedInputError);
      expect((error as MalformedInputError).location).toMatchObject({ line, byteOffset });
      expect(error.message).toContain(`line ${line}`);
      expect(error.message).toContain(`byte ${byteOffset}:`);
      expect(error.message).toContain(problem);
    }
  });

  it('names the exact location after many chunks of a large document', async () => {
    // Prepare: the error comes after about 1 MB of valid records.
    const records = Array.from({ length: 20_000 }, (_, i) => `{"id":${i},"name":"n${i}"}`);
    const text = `[\n${records.join(',\n')},\n{"id":20000,"name":]`;

    // Act
    const error = await extractError('json', text, {}, { chunkBytes: 4096 });

    // Assess
    expect((error as MalformedInputError).location).toMatchObject({
      line: 20_002,
      byteOffset: text.length - 1,
    });
  });

  it('accepts JavaScript whitespace between tokens, unless strict', async () => {
    // Prepare: a no-break space (two bytes) and a vertical tab between tokens.
    const text = '[1,\u00a0 2,\n\v3]';

    // Act
    const lenient = await extract('json', text);
    const strict = [1, 4, 1 << 16].map((chunkBytes) =>
      extractError('json', text, { strict: true }, { chunkBytes }),
    );

    // Assess
    expect(lenient).toEqual([1, 2, 3]);
    expect((await extractError('json', '[1,\n\v3]', { strict: true })).message).toBe(
      'malformed json at line 2, record 1, byte 4: whitespace JSON does not allow (strict), found byte 0x0b',
    );
    for (const error of await Promise.all(strict)) {
      expect(error.message).toBe(
        'malformed json at line 1, record 1, byte 3: whitespace JSON does not allow (strict), found U+00A0',
      );
    }
  });

  it('rejects a record over the record limit', async () => {
    const text = `[{"a":1},{"big":"${'x'.repeat(500)}"}]`;
    const error = await extractError('json', text, {}, { maxRecordBytes: 100 });
    expect(error).toBeInstanceOf(RecordTooLargeError);
    expect((error as RecordTooLargeError).location?.record).toBe(1);
  });
});
