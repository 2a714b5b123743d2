import { fromParsedObjectMetadata, parsedKeyForRaw } from '@fanout/shared';
import { fakeContext, startTestS3, type TestS3 } from '@fanout/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { handleS3Event } from '../../src/index.js';
import { entryLine, putPack } from '../helpers/packs.js';
import { depsFor, FETCHED_AT, putRaw, RUN_ID, s3Event } from '../helpers/s3.js';
import { gunzipLines } from '../helpers/streams.js';

/**
 * `fanout reparse` sends the current manifest's definitions with its events: a page
 * stored with a wrong `recordsPath` (quarantined) becomes records, with no new fetch.
 */

let s3: TestS3;

beforeAll(async () => {
  s3 = await startTestS3();
});
afterAll(async () => {
  await s3.stop();
});

const BODY = '{"data":{"items":[{"id":1},{"id":2}]}}';
const FIXED = { items: { format: 'json', formatOptions: { recordsPath: 'data.items' } } };

function line(source: string, record: unknown) {
  return { source, run: RUN_ID, page: 0, fetchedAt: FETCHED_AT, record };
}

describe('parse definitions carried by a reparse event', () => {
  it('parse a pack entry with the given options instead of the stored ones', async () => {
    const stored = {
      sourceId: 'items',
      format: 'json',
      formatOptions: { recordsPath: 'data.itemz' },
    };
    const { key } = await putPack(s3, [
      entryLine({ ...stored, body: BODY }),
      entryLine({ sourceId: 'other', format: 'ndjson', body: '{"e":1}\n' }),
    ]);
    const { deps } = depsFor(s3);

    // As stored: the entry is quarantined.
    const before = await handleS3Event(s3Event(s3.bucket, key), fakeContext(), deps);
    // With the current definition of `items` (and none for `other`, which keeps its own).
    const after = await handleS3Event(
      { ...s3Event(s3.bucket, key), fanout: { definitions: FIXED } },
      fakeContext(),
      deps,
    );

    expect(before).toMatchObject({ pagesParsed: 1, pagesQuarantined: 1 });
    expect(after).toMatchObject({ pagesParsed: 2, pagesQuarantined: 0, records: 3 });
    const output = await s3.getBytes(parsedKeyForRaw(key));
    expect(gunzipLines(output)).toEqual([
      line('items', { id: 1 }),
      line('items', { id: 2 }),
      line('other', { e: 1 }),
    ]);
    const head = await s3.head(parsedKeyForRaw(key));
    expect(fromParsedObjectMetadata(head?.metadata)).toMatchObject({ parsed: 2, quarantined: 0 });
  });

  it('parse a single raw object with the given options', async () => {
    const key = await putRaw(s3, 'items', 'json', BODY, {
      extension: 'json',
      formatOptions: { recordsPath: 'data.itemz' },
    });
    const { deps } = depsFor(s3);

    const summary = await handleS3Event(
      { ...s3Event(s3.bucket, key), fanout: { definitions: FIXED } },
      fakeContext(),
      deps,
    );

    expect(summary.results).toMatchObject([{ status: 'parsed', key }]);
    expect(gunzipLines(await s3.getBytes(parsedKeyForRaw(key)))).toEqual([
      line('items', { id: 1 }),
      line('items', { id: 2 }),
    ]);
  });

  it('record an event whose definitions do not validate as invalid, naming the field', async () => {
    const key = await putRaw(s3, 'items', 'json', BODY, { extension: 'json' });
    const { deps } = depsFor(s3);

    const summary = await handleS3Event(
      { ...s3Event(s3.bucket, key), fanout: { definitions: { items: { format: 'JSON!' } } } },
      fakeContext(),
      deps,
    );

    expect(summary.results).toEqual([]);
    expect(summary.invalidEventKey).toMatch(/^runs\/_invalid\//);
    expect(JSON.stringify(summary.rejected)).toContain('fanout.definitions.items.format');
  });
});
