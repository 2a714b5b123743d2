import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { DeleteObjectCommand } from '@aws-sdk/client-s3';
import { startTestS3, type TestS3 } from '@fanout/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cacheDirFor, syncRecordsCache } from '../../src/query/cache.js';
import { openRecordsDatabase, QueryError } from '../../src/query/engine.js';
import { csvText, jsonLines, tableText } from '../../src/query/output.js';

/** A parsed line as the parser writes one (key and hash as given: the query reads them as stored). */
const line = (source: string, run: string, key: string, record: string) =>
  `{"source":"${source}","run":"${run}","page":0,"fetchedAt":"2026-12-06T10:00:0${run.slice(-1)}.000Z","key":"${key}","hash":"h-${key}-${record.length}","record":${record}}\n`;

let s3: TestS3;
let home: string;

beforeAll(async () => {
  s3 = await startTestS3();
  home = await mkdtemp(join(tmpdir(), 'fanout-query-'));
  await s3.putText(
    'parsed/dt=2026-12-06/r1~b00000-h0.ndjson.gz',
    gzipSync(
      line('s', 'r1', 'a', '{"n":12345678901234567890123,"z":-0,"t":"caf\\u00e9"}') +
        line('s', 'r1', 'b', '{"t":"tab\\there, \\"q\\""}'),
    ),
  );
  await s3.putText(
    'parsed/dt=2026-12-07/r2~b00000-h0.ndjson.gz',
    gzipSync(line('s', 'r2', 'a', '{"n":2}')),
  );
  await s3.putText('raw/packs/dt=2026-12-06/r1-b00000-h0.pack.ndjson.gz', 'not parsed output');
});

afterAll(async () => {
  await s3.stop();
  await rm(home, { recursive: true, force: true });
});

describe('the records cache', () => {
  it('copies the parsed objects as stored, then only what changed, and drops what is gone', async () => {
    const dir = cacheDirFor(home, s3.bucket, { endpoint: s3.endpoint });
    const first = await syncRecordsCache(s3.client, s3.bucket, dir);
    expect(first).toMatchObject({ objects: 2, downloaded: 2, removed: 0 });
    const cached = await readFile(join(dir, 'parsed/dt=2026-12-07/r2~b00000-h0.ndjson.gz'));
    expect(cached.equals(await s3.getBytes('parsed/dt=2026-12-07/r2~b00000-h0.ndjson.gz'))).toBe(
      true,
    );

    expect(await syncRecordsCache(s3.client, s3.bucket, dir)).toMatchObject({
      downloaded: 0,
      removed: 0,
    });

    await s3.putText(
      'parsed/dt=2026-12-08/r3~b00000-h0.ndjson.gz',
      gzipSync(line('t', 'r3', 'x', '1')),
    );
    await s3.client.send(
      new DeleteObjectCommand({
        Bucket: s3.bucket,
        Key: 'parsed/dt=2026-12-08/r3~b00000-h0.ndjson.gz',
      }),
    );
    await s3.putText(
      'parsed/dt=2026-12-08/r4~b00000-h0.ndjson.gz',
      gzipSync(line('t', 'r4', 'y', '2')),
    );
    expect(await syncRecordsCache(s3.client, s3.bucket, dir)).toMatchObject({
      objects: 3,
      downloaded: 1,
      removed: 0,
    });
    await s3.client.send(
      new DeleteObjectCommand({
        Bucket: s3.bucket,
        Key: 'parsed/dt=2026-12-08/r4~b00000-h0.ndjson.gz',
      }),
    );
    expect(await syncRecordsCache(s3.client, s3.bucket, dir)).toMatchObject({
      objects: 2,
      removed: 1,
    });
  });
});

describe('the records database', () => {
  it('reads the columns of the Glue table and each record byte for byte', async () => {
    const dir = cacheDirFor(home, s3.bucket, { endpoint: s3.endpoint });
    await syncRecordsCache(s3.client, s3.bucket, dir);
    const database = await openRecordsDatabase(dir);
    try {
      const result = await database.query('SELECT * FROM records ORDER BY run, key');
      expect(result.columns).toEqual([
        'source',
        'run',
        'page',
        'fetchedat',
        'key',
        'hash',
        'record',
        'url',
        'linkedfrom',
        'dt',
      ]);
      expect(result.rows.map((row) => row[6])).toEqual([
        '{"n":12345678901234567890123,"z":-0,"t":"caf\\u00e9"}',
        '{"t":"tab\\there, \\"q\\""}',
        '{"n":2}',
      ]);
      // Not detail pages: no page URL, no linking page.
      expect(result.rows.map((row) => [row[7], row[8]])).toEqual([
        [null, null],
        [null, null],
        [null, null],
      ]);
      expect(result.rows.map((row) => row[9])).toEqual(['2026-12-06', '2026-12-06', '2026-12-07']);
      // Athena's function name works, and the latest version of a key is the later fetch.
      const latest = await database.query(
        "SELECT key, json_extract_scalar(record, '$.n') AS n FROM records_latest ORDER BY key",
      );
      expect(latest.rows).toEqual([
        ['a', '2'],
        ['b', null],
      ]);
      await expect(database.query('SELECT nope FROM records')).rejects.toBeInstanceOf(QueryError);
    } finally {
      database.close();
    }
  });

  it('answers with no rows when nothing is parsed yet', async () => {
    const database = await openRecordsDatabase(join(home, 'empty'));
    try {
      expect((await database.query('SELECT count(*) AS n FROM records_changes')).rows).toEqual([
        ['0'],
      ]);
    } finally {
      database.close();
    }
  });
});

describe('query output', () => {
  const result = {
    columns: ['n', 'record', 'note'],
    types: [
      { name: 'BIGINT', json: false, exactNumber: true },
      { name: 'VARCHAR', json: true, exactNumber: false },
      { name: 'VARCHAR', json: false, exactNumber: false },
    ],
    rows: [
      ['12345678901234567890', '{"z":-0}', 'a, "b"\nc'],
      ['2', null, null],
    ],
  };

  it('--json writes one object a line, numbers and JSON columns as their exact text', () => {
    const text = jsonLines(result);
    expect(text).toBe(
      '{"n":12345678901234567890,"record":{"z":-0},"note":"a, \\"b\\"\\nc"}\n{"n":2,"record":null,"note":null}\n',
    );
    expect(
      text
        .split('\n')
        .slice(0, -1)
        .map((l) => JSON.parse(l).note),
    ).toEqual(['a, "b"\nc', null]);
  });

  it('--csv quotes what RFC 4180 needs', () => {
    expect(csvText(result)).toBe(
      'n,record,note\r\n12345678901234567890,"{""z"":-0}","a, ""b""\nc"\r\n2,,\r\n',
    );
  });

  it('a table aligns columns, numbers to the right, and counts the rows', () => {
    expect(tableText(result)).toBe(
      [
        '                   n  record    note',
        '--------------------  --------  --------',
        '12345678901234567890  {"z":-0}  a, "b" c',
        '                   2',
        '(2 rows)',
        '',
      ].join('\n'),
    );
  });
});

// The output of gunzip is what DuckDB reads: keep the helper honest.
it('writes gzip the way the parser does', () => {
  expect(gunzipSync(gzipSync(line('s', 'r1', 'k', '1'))).toString()).toContain('"record":1}');
});
