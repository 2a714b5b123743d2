import { describe, expect, it } from 'vitest';
import {
  bytesSource,
  cursorValueOf,
  FetchSelection,
  type FetchSelectionOptions,
  PairCollector,
  type ParseStreamOptions,
  parseStream,
  RecordKeyError,
  recordHash,
  recordPair,
} from '../../src/index.js';
import { gunzipLines, memorySink, TEST_LIMITS } from '../helpers/streams.js';

const ENVELOPE = {
  sourceId: 'news',
  runId: '20261125T131000Z',
  fetchedAt: '2026-11-25T13:10:03.000Z',
};

function options(extra: Partial<ParseStreamOptions>): ParseStreamOptions {
  return { format: 'ndjson', envelope: ENVELOPE, limits: TEST_LIMITS, gzipLevel: 1, ...extra };
}

async function written(text: string, extra: Partial<ParseStreamOptions>) {
  const sink = memorySink();
  const stats = await parseStream(bytesSource(text, 9), sink.stream, options(extra));
  const records = gunzipLines(sink.bytes()).map((line) => (line as { record: unknown }).record);
  return { stats, records };
}

const ndjson = (...records: unknown[]) => records.map((r) => `${JSON.stringify(r)}\n`).join('');

/** The pairs a previous fetch of `text` leaves, read the way the parser reads one again. */
async function pairsOf(text: string, extra: Partial<ParseStreamOptions> = {}) {
  const collector = new PairCollector();
  const { stats } = await written(text, { ...extra, select: collector });
  expect(stats.records).toBe(0);
  return collector.pairs;
}

describe('emit: changes', () => {
  it('writes only the records whose (key, hash) the previous fetch did not produce', async () => {
    const before = ndjson({ id: 'a', v: 1 }, { id: 'b', v: 1 }, { id: 'c', v: 1 });
    const now = ndjson({ id: 'a', v: 2 }, { id: 'b', v: 1 }, { id: 'c', v: 1 }, { id: 'd', v: 1 });
    const select = new FetchSelection({ previous: await pairsOf(before, { recordKey: ['id'] }) });
    const { stats, records } = await written(now, { recordKey: ['id'], select });
    expect(records).toEqual([
      { id: 'a', v: 2 },
      { id: 'd', v: 1 },
    ]);
    expect(stats).toMatchObject({ records: 2, leftOut: 2 });
    expect(select.unchanged).toBe(2);
  });

  it('compares the hash alone when no key is declared: a changed record is a new one', async () => {
    const previous = await pairsOf(ndjson({ a: 1 }, { b: 1 }));
    expect([...previous]).toEqual([recordHash('{"a":1}'), recordHash('{"b":1}')]);
    const { records } = await written(ndjson({ a: 1 }, { b: 2 }), {
      select: new FetchSelection({ previous }),
    });
    expect(records).toEqual([{ b: 2 }]);
  });

  it('writes a record again when it comes back to a version the previous fetch did not have', async () => {
    const previous = await pairsOf(ndjson({ id: 'a', v: 2 }), { recordKey: ['id'] });
    const { records } = await written(ndjson({ id: 'a', v: 1 }), {
      recordKey: ['id'],
      select: new FetchSelection({ previous }),
    });
    expect(records).toEqual([{ id: 'a', v: 1 }]);
  });

  it('pairs a key with its hash, and a record without a key by its hash alone', () => {
    expect(recordPair('"a"', '0123456789abcdef')).toBe('0123456789abcdef"a"');
    expect(recordPair(undefined, '0123456789abcdef')).toBe('0123456789abcdef');
  });

  it('names the right record when one after left-out records is bad', async () => {
    const previous = await pairsOf(ndjson({ id: 'a' }, { id: 'b' }), { recordKey: ['id'] });
    const error = await written(ndjson({ id: 'a' }, { id: 'b' }, { x: 1 }), {
      recordKey: ['id'],
      select: new FetchSelection({ previous }),
    }).catch((thrown: unknown) => thrown);
    expect(error).toBeInstanceOf(RecordKeyError);
    expect((error as RecordKeyError).location).toEqual({ record: 2 });
  });
});

describe('a cursor', () => {
  const at = (minute: number) => `2026-11-25T13:${String(minute).padStart(2, '0')}:00Z`;

  it('leaves out records at or below the value the fetch started from, and reports the highest', async () => {
    const select = new FetchSelection({
      cursor: { field: 'updated', value: JSON.stringify(at(10)) },
    });
    const { stats, records } = await written(
      ndjson(
        { id: 1, updated: at(9) },
        { id: 2, updated: at(10) },
        { id: 3, updated: '2026-11-25T14:11:00+01:00' },
        { id: 4, updated: at(12) },
      ),
      { select },
    );
    expect(records.map((r) => (r as { id: number }).id)).toEqual([3, 4]);
    expect(stats).toMatchObject({ records: 2, leftOut: 2 });
    expect(select.notAfterCursor).toBe(2);
    expect(select.cursor).toBe(JSON.stringify(at(12)));
  });

  it('keeps records without a comparable value, and they do not move the cursor', async () => {
    const select = new FetchSelection({ cursor: { field: '/meta/seq', value: '100' } });
    const { records } = await written(
      `${ndjson({ meta: { seq: 99 } }, { meta: {} }, { meta: { seq: null } }, { meta: { seq: '101' } })}{"meta":{"seq":12345678901234567890123}}\n${ndjson({ other: true })}`,
      { select },
    );
    expect(records).toHaveLength(5);
    expect(select.withoutCursor).toBe(4);
    // Read as the source wrote it: no rounding of a number past 2^53.
    expect(select.cursor).toBe('12345678901234567890123');
  });

  it('starts from the records of a first fetch, and stays where it was when no record is higher', async () => {
    const first = new FetchSelection({ cursor: { field: 'n' } });
    await written(ndjson({ n: 3 }, { n: 7 }, { n: 5 }), { select: first });
    expect(first.cursor).toBe('7');
    const next = new FetchSelection({ cursor: { field: 'n', value: '7' } });
    const { records } = await written(ndjson({ n: 6 }, { n: 7 }), { select: next });
    expect(records).toEqual([]);
    expect(next.cursor).toBe('7');
  });

  it('reads objects an extractor built (csv) as well as raw JSON', async () => {
    const select = new FetchSelection({ cursor: { field: 'at', value: '"2026-11-25"' } });
    const { records } = await written('id,at\n1,2026-11-24\n2,2026-11-26\n', {
      format: 'csv',
      select,
    });
    expect(records).toEqual([{ id: '2', at: '2026-11-26' }]);
    expect(select.cursor).toBe('"2026-11-26"');
  });

  it('is read from compact JSON bytes exactly', () => {
    const bytes = Buffer.from('{"a":{"b":"x\\u0079"},"n":-1.5e3,"t":true}');
    expect(cursorValueOf(bytes, 0, bytes.length, ['a', 'b'])).toBe('"xy"');
    expect(cursorValueOf(bytes, 0, bytes.length, ['n'])).toBe('-1.5e3');
    expect(cursorValueOf(bytes, 0, bytes.length, ['t'])).toBeUndefined();
    expect(cursorValueOf(bytes, 0, bytes.length, ['missing'])).toBeUndefined();
  });

  it('combines with emit: changes', async () => {
    const options: FetchSelectionOptions = {
      previous: await pairsOf(ndjson({ id: 1, n: 5 })),
      cursor: { field: 'n', value: '2' },
    };
    const select = new FetchSelection(options);
    const { records } = await written(ndjson({ id: 0, n: 1 }, { id: 1, n: 5 }, { id: 2, n: 6 }), {
      select,
    });
    expect(records).toEqual([{ id: 2, n: 6 }]);
    expect(select.cursor).toBe('6');
  });
});
