import { DeleteObjectCommand } from '@aws-sdk/client-s3';
import {
  fromParsedObjectMetadata,
  parsedKeyForRaw,
  type QuarantineReport,
  quarantineKeyForRaw,
  quarantineReportKeyForRaw,
} from '@fanout/shared';
import { fakeContext, localS3Client, startTestS3, type TestS3 } from '@fanout/testkit';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { handleS3Event, TransientParseError } from '../../src/index.js';
import {
  countingClient,
  depsFor,
  FETCHED_AT,
  PUT_CLASS,
  parsedPrefixFor,
  putRaw,
  RUN_ID,
  s3Event,
} from '../helpers/s3.js';
import { gunzipLines } from '../helpers/streams.js';

let s3: TestS3;

beforeAll(async () => {
  s3 = await startTestS3();
});
afterAll(async () => {
  await s3.stop();
});
let source = 0;
let sourceId = 'src-0';
beforeEach(() => {
  source += 1;
  sourceId = `src-${source}`;
});

describe('raw object -> parser -> parsed output (s3rver)', () => {
  it('writes gzip NDJSON with the envelope, its outcome as the object metadata, in one PutObject', async () => {
    // Prepare
    const key = await putRaw(s3, sourceId, 'ndjson', '{"a":1}\n\n{"a":2}\n', {
      extension: 'ndjson',
    });
    const { deps, counts } = depsFor(s3);
    const counting = countingClient(s3);

    // Act
    const summary = await handleS3Event(s3Event(s3.bucket, key), fakeContext(), {
      ...deps,
      s3: counting.client,
    });

    // Assess
    const outputKey = parsedKeyForRaw(key);
    expect(await s3.listKeys(parsedPrefixFor(sourceId))).toEqual([outputKey]);
    const envelope = { source: sourceId, run: RUN_ID, page: 0, fetchedAt: FETCHED_AT };
    const output = await s3.getBytes(outputKey);
    expect(gunzipLines(output)).toEqual([
      { ...envelope, record: { a: 1 } },
      { ...envelope, record: { a: 2 } },
    ]);
    const outcome = fromParsedObjectMetadata((await s3.head(outputKey))?.metadata);
    expect(outcome).toEqual({
      runId: RUN_ID,
      rawKey: key,
      pages: 1,
      parsed: 1,
      quarantined: 0,
      quarantinedPages: [],
      records: 2,
      bytesIn: 17,
      bytesOut: output.length,
      parsedAt: '2026-11-25T13:10:30.000Z',
    });
    expect(counting.commands).toEqual([
      'GetObjectCommand',
      'PutObjectCommand',
      'HeadObjectCommand',
    ]);
    expect(counting.commands.filter((name) => PUT_CLASS.has(name))).toHaveLength(1);
    expect(await s3.listKeys('runs/')).toEqual([]);
    expect(summary).toMatchObject({ records: 2, pagesParsed: 1, pagesQuarantined: 0 });
    expect(counts.get('ObjectsParsed')).toBe(1);
    expect(counts.get('RecordsWritten')).toBe(2);
    counting.client.destroy();
  });

  it('reads an undeclared Latin-1 feed as windows-1252 and records it in the outcome', async () => {
    // Prepare: a real publisher's feed shape: no XML declaration, no charset, Latin-1 bytes.
    const feed = Buffer.from(
      '<rss version="2.0"><channel><item><title>Caf\xe9 cr\xe8me \x96 \x80 3</title></item></channel></rss>',
      'latin1',
    );
    const key = await putRaw(s3, sourceId, 'rss', feed, {
      extension: 'xml',
      contentType: 'application/rss+xml',
    });
    const { deps, log } = depsFor(s3);

    // Act
    const summary = await handleS3Event(s3Event(s3.bucket, key), fakeContext(), deps);

    // Assess
    expect(summary).toMatchObject({ pagesParsed: 1, pagesQuarantined: 0 });
    const outputKey = parsedKeyForRaw(key);
    expect(gunzipLines(await s3.getBytes(outputKey))).toEqual([
      expect.objectContaining({ record: { title: 'Café crème – € 3' } }),
    ]);
    const outcome = fromParsedObjectMetadata((await s3.head(outputKey))?.metadata);
    expect(outcome?.windows1252Pages).toEqual([`${sourceId}-p0000`]);
    expect(JSON.stringify(log.entries)).toContain('windows1252Pages');
  });

  it('quarantines a malformed object: copy, report with location, and no parsed output', async () => {
    // Prepare
    const body = 'id,name\n1,a\n2,"b\n';
    const key = await putRaw(s3, sourceId, 'csv', body, { extension: 'csv' });
    const { deps, log } = depsFor(s3);

    // Act
    const summary = await handleS3Event(s3Event(s3.bucket, key), fakeContext(), deps);

    // Assess
    expect(summary.results[0]?.status).toBe('quarantined');
    expect(await s3.listKeys(parsedPrefixFor(sourceId))).toEqual([]);
    expect((await s3.getBytes(quarantineKeyForRaw(key))).toString()).toBe(body);
    expect((await s3.head(quarantineKeyForRaw(key)))?.metadata['run-id']).toBe(RUN_ID);
    const report = await s3.getJson<QuarantineReport>(quarantineReportKeyForRaw(key));
    expect(report).toMatchObject({
      rawKey: key,
      errorName: 'MalformedInputError',
      // The unclosed quote itself: line 3, after "id,name\n1,a\n2,".
      location: { line: 3, record: 1, byteOffset: 14 },
    });
    expect(report.reason).toContain('CSV_QUOTE_NOT_CLOSED');
    expect(summary.results[0]).toMatchObject({
      quarantineKey: quarantineKeyForRaw(key),
      reportKey: quarantineReportKeyForRaw(key),
    });
    expect(await s3.listKeys('runs/')).toEqual([]);
    expect(
      log.entries.some((e) => e.level === 'warn' && e.message === 'raw object quarantined'),
    ).toBe(true);
  });

  it.each([
    [
      'unknown format',
      'yaml',
      'a: 1',
      {},
      /^unknown format "yaml" \(known: atom, csv, html, json, key-value, ndjson, rss\)$/,
    ],
    [
      'over the size limit',
      'ndjson',
      '{"a":1}\n'.repeat(20),
      { maxRawBytes: 100 },
      /160 bytes, over the 100-byte limit/,
    ],
  ])(
    'quarantines an object with an %s without parsing it',
    async (_name, format, body, config, reason) => {
      const key = await putRaw(s3, sourceId, format, body);
      const { deps } = depsFor(s3, config);
      await handleS3Event(s3Event(s3.bucket, key), fakeContext(), deps);
      const report = await s3.getJson<QuarantineReport>(quarantineReportKeyForRaw(key));
      expect(report.reason).toMatch(reason);
      expect(await s3.listKeys(parsedPrefixFor(sourceId))).toEqual([]);
      expect(await s3.head(quarantineKeyForRaw(key))).toBeDefined();
    },
  );

  it('quarantines an object whose metadata is invalid, naming the field', async () => {
    const key = `raw/source=${sourceId}/dt=2026-11-25/${RUN_ID}-p0000.json`;
    await s3.putText(key, '[1]', { 'run-id': RUN_ID, 'source-id': sourceId, format: 'json' });
    const { deps } = depsFor(s3);
    await handleS3Event(s3Event(s3.bucket, key), fakeContext(), deps);
    const report = await s3.getJson<QuarantineReport>(quarantineReportKeyForRaw(key));
    expect(report.errorName).toBe('InvalidMetadataError');
    expect(report.reason).toContain('metadata.fetchedAt');
    expect(await s3.listKeys(parsedPrefixFor(sourceId))).toEqual([]);
  });

  it('handles the same event delivered twice: one output object, identical bytes', async () => {
    const key = await putRaw(s3, sourceId, 'json', '{"items":[{"id":1},{"id":2}]}', {
      extension: 'json',
      formatOptions: { recordsPath: 'items' },
    });
    const event = s3Event(s3.bucket, key);
    await handleS3Event(event, fakeContext(), depsFor(s3).deps);
    const first = await s3.getBytes(parsedKeyForRaw(key));
    await handleS3Event(event, fakeContext(), depsFor(s3).deps);
    const second = await s3.getBytes(parsedKeyForRaw(key));
    expect(await s3.listKeys(parsedPrefixFor(sourceId))).toEqual([parsedKeyForRaw(key)]);
    expect(second.equals(first)).toBe(true);
    expect(gunzipLines(first)).toHaveLength(2);
  });

  it('parses every record of an event with three records', async () => {
    const csvKey = await putRaw(s3, `${sourceId}-csv`, 'csv', 'a;b\n1;2\n', {
      extension: 'csv',
      formatOptions: { delimiter: ';' },
    });
    const rssKey = await putRaw(
      s3,
      `${sourceId}-rss`,
      'rss',
      '<rss><channel><item><title>t</title></item></channel></rss>',
      { extension: 'xml' },
    );
    const kvKey = await putRaw(s3, `${sourceId}-kv`, 'key-value', 'a=1\n\na=2\n');
    const summary = await handleS3Event(
      s3Event(s3.bucket, csvKey, rssKey, kvKey),
      fakeContext(),
      depsFor(s3).deps,
    );
    expect(summary.results.map((r) => r.status)).toEqual(['parsed', 'parsed', 'parsed']);
    expect(gunzipLines(await s3.getBytes(parsedKeyForRaw(csvKey)))).toMatchObject([
      { record: { a: '1', b: '2' } },
    ]);
    expect(gunzipLines(await s3.getBytes(parsedKeyForRaw(rssKey)))).toMatchObject([
      { record: { title: 't' } },
    ]);
    expect(gunzipLines(await s3.getBytes(parsedKeyForRaw(kvKey)))).toHaveLength(2);
  });

  it('decodes raw keys with spaces, plus signs and unicode, for parsing and for quarantine', async () => {
    const good = `raw/source=${sourceId}/dt=2026-11-25/red flower+1 東京.ndjson`;
    // No `+` here: s3rver decodes x-amz-copy-source with decodeURI, so %2B stays
    // literal there (S3 decodes it); copySource's unit test covers `+`.
    const bad = `raw/source=${sourceId}/dt=2026-11-25/bad one ü.ndjson`;
    await putRaw(s3, sourceId, 'ndjson', '{"a":1}\n', { key: good });
    await putRaw(s3, sourceId, 'ndjson', 'nope\n', { key: bad });
    const event = s3Event(s3.bucket, good, bad);
    expect(event.Records[0]?.s3.object.key).toContain('red+flower%2B1+%E6%9D%B1');

    const summary = await handleS3Event(event, fakeContext(), depsFor(s3).deps);

    expect(summary.results.map((r) => [r.key, r.status])).toEqual([
      [good, 'parsed'],
      [bad, 'quarantined'],
    ]);
    expect(await s3.listKeys(`parsed/source=${sourceId}/`)).toEqual([
      `parsed/source=${sourceId}/dt=2026-11-25/red flower+1 東京.ndjson.gz`,
    ]);
    expect((await s3.getBytes(quarantineKeyForRaw(bad))).toString()).toBe('nope\n');
  });

  it('ends the event when the object to quarantine cannot be found by its copy (no endless retry)', async () => {
    // Prepare: the raw object is deleted between the parser's read and its quarantine
    // copy (a lifecycle rule or a person), so the copy answers NoSuchKey.
    const bad = `raw/source=${sourceId}/dt=2026-11-25/a+b.ndjson`;
    await putRaw(s3, sourceId, 'ndjson', 'nope\n', { key: bad });
    const { client } = countingClient(s3);
    client.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === 'CopyObjectCommand') {
          await s3.client.send(new DeleteObjectCommand({ Bucket: s3.bucket, Key: bad }));
        }
        return next(args);
      },
      { step: 'initialize', name: 'deleteBeforeCopy' },
    );
    const { deps: base, log } = depsFor(s3);
    const deps = { ...base, s3: client };

    // Act
    const summary = await handleS3Event(s3Event(s3.bucket, bad), fakeContext(), deps);

    // Assess
    expect(summary.results).toHaveLength(1);
    const result = summary.results[0];
    expect(result?.status).toBe('quarantined');
    expect(result).not.toHaveProperty('quarantineKey');
    expect(await s3.head(quarantineKeyForRaw(bad))).toBeUndefined();
    const report = await s3.getJson<QuarantineReport>(quarantineReportKeyForRaw(bad));
    expect(report.errorName).toBe('MalformedInputError');
    expect(report.reason).toContain('not copied: the raw object was not found');
    const warnings = log.entries.filter((e) => e.level === 'warn');
    expect(warnings.map((e) => e.message)).toEqual(['raw object quarantined']);
    expect(JSON.stringify(warnings[0]?.extra)).toContain(
      'not copied: the raw object was not found',
    );
  });

  it('streams a multi-part output and leaves nothing when a late line is malformed', async () => {
    const line = (i: number) => `{"i":${i},"pad":"${i.toString(36).repeat(40)}"}\n`;
    const lines = Array.from({ length: 60_000 }, (_, i) => line(i)).join('');
    const goodKey = await putRaw(s3, sourceId, 'ndjson', lines, { extension: 'ndjson' });
    const badKey = await putRaw(s3, `${sourceId}-bad`, 'ndjson', `${lines}{broken\n`, {
      extension: 'ndjson',
    });
    // Level 0 keeps the output as large as the input, so it spans several 5 MiB parts.
    const { deps } = depsFor(s3, { gzipLevel: 0, uploadPartBytes: 5 * 1024 * 1024 });

    const summary = await handleS3Event(s3Event(s3.bucket, goodKey, badKey), fakeContext(), deps);

    expect(summary.results.map((r) => r.status)).toEqual(['parsed', 'quarantined']);
    const output = await s3.getBytes(parsedKeyForRaw(goodKey));
    expect(output.length).toBeGreaterThan(10 * 1024 * 1024);
    const records = gunzipLines(output);
    expect(records).toHaveLength(60_000);
    expect(records[59_999]).toMatchObject({ record: { i: 59_999 } });
    // Over one part: a multipart upload, then one CopyObject onto itself sets the outcome.
    expect(
      fromParsedObjectMetadata((await s3.head(parsedKeyForRaw(goodKey)))?.metadata),
    ).toMatchObject({
      rawKey: goodKey,
      records: 60_000,
      bytesOut: output.length,
    });
    expect(await s3.listKeys(parsedPrefixFor(`${sourceId}-bad`))).toEqual([]);
    const report = await s3.getJson<QuarantineReport>(quarantineReportKeyForRaw(badKey));
    expect(report.location).toEqual({
      line: 60_001,
      byteOffset: Buffer.byteLength(lines),
      record: 60_000,
    });
  }, 300_000);

  it('throws for a storage fault so Lambda retries, without quarantining', async () => {
    const key = await putRaw(s3, sourceId, 'ndjson', '{"a":1}\n');
    const { deps, log } = depsFor(s3);
    const unreachable = localS3Client('http://127.0.0.1:9');
    unreachable.config.maxAttempts = async () => 1;
    await expect(
      handleS3Event(s3Event(s3.bucket, key), fakeContext(), { ...deps, s3: unreachable }),
    ).rejects.toBeInstanceOf(TransientParseError);
    expect(await s3.listKeys(`quarantine/source=${sourceId}/`)).toEqual([]);
    expect(await s3.listKeys(parsedPrefixFor(sourceId))).toEqual([]);
    expect(log.entries.some((e) => e.level === 'error')).toBe(true);
    unreachable.destroy();
  });
});
