import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { CONFORMANCE, CSV_READERS, conformance } from '../../src/cases/csv-libraries-work.js';

const PLAIN = 'id,name,note\n1,item-1,"note 1"\n2,item-2,"note 2"\n';

async function read(name: string, text: string): Promise<unknown[]> {
  const reader = CSV_READERS[name];
  if (!reader) throw new Error(`no reader ${name}`);
  const records: unknown[] = [];
  await reader(Readable.from([Buffer.from(text)], { objectMode: false }), (r) => records.push(r));
  return records;
}

describe('CSV readers of the library comparison', () => {
  it.each(Object.keys(CSV_READERS))('%s reads plain CSV into objects of strings', async (name) => {
    // Prepare / Act
    const records = await read(name, PLAIN);

    // Assess: every library is compared on the same records.
    expect(records).toEqual([
      { id: '1', name: 'item-1', note: 'note 1' },
      { id: '2', name: 'item-2', note: 'note 2' },
    ]);
  });

  it('csv-parse as the parser drives it meets every check, whole and one byte at a time', async () => {
    const result = await conformance('csv-parse 6.2.1 in the parser extractor');

    expect(result.failed).toEqual([]);
    expect(result.passed).toHaveLength(CONFORMANCE.length);
    expect(result.unclosedQuoteError).toMatch(/Quote Not Closed/);
  });

  it('names a check that passes whole but not in 1-byte chunks', async () => {
    const result = await conformance('papaparse 5.7.1');

    expect(result.failed).toContain('CRLF (in 1-byte chunks)');
  });
});
