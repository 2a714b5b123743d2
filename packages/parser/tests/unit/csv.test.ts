import { describe, expect, it } from 'vitest';
import { MalformedInputError, RecordTooLargeError } from '../../src/index.js';
import { extract, extractError } from '../helpers/streams.js';

describe('csv', () => {
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

  it('reports an unbalanced quote', async () => {
    const error = await extractError('csv', 'a,b\n1,2\n3,"four\n5,6\n');
    expect(error).toBeInstanceOf(MalformedInputError);
    expect(error.message).toContain('CSV_QUOTE_NOT_CLOSED');
    expect((error as MalformedInputError).location).toMatchObject({ record: 1, byteOffset: 8 });
  });

  it('reports a row with the wrong number of fields by line and record', async () => {
    const error = await extractError('csv', 'a,b\n1,2\n3,4,5\n');
    expect(error.message).toContain('CSV_RECORD_INCONSISTENT_COLUMNS');
    expect((error as MalformedInputError).location).toEqual({ line: 3, record: 1, byteOffset: 8 });
  });

  it('rejects a field over the record limit', async () => {
    const error = await extractError('csv', `a\n${'x'.repeat(300)}\n`, {}, { maxRecordBytes: 100 });
    expect(error).toBeInstanceOf(RecordTooLargeError);
  });
});
