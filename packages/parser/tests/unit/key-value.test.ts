import { describe, expect, it } from 'vitest';
import { MalformedInputError } from '../../src/index.js';
import { extract, extractError } from '../helpers/streams.js';

describe('key-value (the example custom extractor)', () => {
  it('yields one record per block of key=value or key: value lines', async () => {
    const text = '# people\nname=Ann\nage: 31\n\n\nname = Bob\nurl=https://x.example/?a=b\n';
    expect(await extract('key-value', text)).toEqual([
      { name: 'Ann', age: '31' },
      { name: 'Bob', url: 'https://x.example/?a=b' },
    ]);
  });

  it('reports a line without a separator by line and byte offset', async () => {
    const error = await extractError('key-value', 'a=1\n\nb=2\noops\n');
    expect(error).toBeInstanceOf(MalformedInputError);
    expect((error as MalformedInputError).location).toEqual({ line: 4, byteOffset: 9, record: 1 });
    expect(error.message).toContain('got "oops"');
  });
});
