import { describe, expect, it } from 'vitest';
import {
  check,
  fromS3Metadata,
  keyFieldTokens,
  PackEntrySchema,
  parseManifest,
  RECORD_VIEWS,
  RecordKeySchema,
  SQL_ENGINES,
  toS3Metadata,
} from '../../src/index.js';

describe('record key', () => {
  it('reads a field name as itself and a JSON pointer as its tokens', () => {
    expect(keyFieldTokens('id')).toEqual(['id']);
    expect(keyFieldTokens('a/b')).toEqual(['a/b']);
    expect(keyFieldTokens('/item/guid')).toEqual(['item', 'guid']);
    expect(keyFieldTokens('/a~1b/~0c/0')).toEqual(['a/b', '~c', '0']);
    expect(keyFieldTokens('/')).toEqual(['']);
    expect(keyFieldTokens('/a~2')).toBeUndefined();
  });

  it('accepts 1 to 8 fields and names what is wrong', () => {
    expect(check(RecordKeySchema, ['id', '/item/guid']).ok).toBe(true);
    const bad = check(RecordKeySchema, ['/a~x'], ['sources', 0, 'key']);
    expect(bad.ok ? [] : bad.issues).toEqual([
      'sources[0].key[0]: a JSON pointer may use ~ only as ~0 (for ~) or ~1 (for /), got "/a~x"',
    ]);
    expect(check(RecordKeySchema, []).ok).toBe(false);
    const long = check(RecordKeySchema, ['x'.repeat(200), 'y'.repeat(60)], ['sources', 0, 'key']);
    expect(long.ok ? '' : long.issues.join()).toMatch(
      /^sources\[0\]\.key: may take at most 256 bytes as JSON \(it travels in a raw object's S3 metadata, 2 KB in all\), got /,
    );
    expect(
      check(
        RecordKeySchema,
        Array.from({ length: 9 }, (_, i) => `f${i}`),
      ).ok,
    ).toBe(false);
  });

  it('is a source setting that travels in pack entries and single raw objects', () => {
    const { sources, invalid } = parseManifest({
      version: 1,
      sources: [
        { id: 'a', url: 'https://example.test/a', format: 'rss', key: ['id'] },
        { id: 'b', url: 'https://example.test/b', format: 'rss', key: 'id' },
      ],
    });
    expect(sources.map((s) => s.key)).toEqual([['id']]);
    expect(invalid[0]?.errors[0]).toMatch(/^sources\[1\]\.key: /);
    const meta = {
      runId: '20261206T100000Z',
      sourceId: 'a',
      format: 'json',
      formatOptions: {},
      recordKey: ['/item/gu\u00efd'],
      fetchedAt: '2026-12-06T10:00:01.000Z',
      scheduledAt: '2026-12-06T10:00:00.000Z',
      sha256: 'a'.repeat(64),
      httpStatus: 200,
      page: 0,
    };
    const stored = toS3Metadata(meta);
    expect(stored['record-key']).toBe('["/item/gu\\u00efd"]');
    expect(fromS3Metadata(stored).recordKey).toEqual(['/item/guïd']);
    const entry = {
      sourceId: 'a',
      page: 0,
      url: 'https://example.test/',
      httpStatus: 200,
      fetchedAt: '2026-12-06T10:00:01.000Z',
      sha256: 'a'.repeat(64),
      bytes: 2,
      format: 'json',
      bodyEncoding: 'utf8',
      body: '[]',
    };
    expect(PackEntrySchema.safeParse({ ...entry, key: ['id'] }).success).toBe(true);
    expect(PackEntrySchema.safeParse({ ...entry, key: [] }).success).toBe(false);
  });
});

describe('record views', () => {
  it('are the same SQL for both engines but for the records table', () => {
    for (const view of RECORD_VIEWS) {
      const athena = view.sql(SQL_ENGINES.athena.recordsTable('fanout_dev', 'records'));
      const duckdb = view.sql(SQL_ENGINES.duckdb.recordsTable());
      expect(athena.replace('"fanout_dev"."records"', 'records')).toBe(duckdb);
    }
  });
});
