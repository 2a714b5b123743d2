import { describe, expect, it } from 'vitest';
import { MalformedInputError, RecordTooLargeError } from '../../src/index.js';
import { extract, extractError } from '../helpers/streams.js';

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
    expect((await extractError('json', '[1,2] x')).message).toContain('unexpected');
    expect((await extractError('json', '')).message).toBe(
      'malformed json at byte 0: empty document',
    );
    expect((await extractError('json', ' \n ')).message).toContain('empty document');
  });

  it('rejects a record over the record limit', async () => {
    const text = `[{"a":1},{"big":"${'x'.repeat(500)}"}]`;
    const error = await extractError('json', text, {}, { maxRecordBytes: 100 });
    expect(error).toBeInstanceOf(RecordTooLargeError);
    expect((error as RecordTooLargeError).location?.record).toBe(1);
  });
});
