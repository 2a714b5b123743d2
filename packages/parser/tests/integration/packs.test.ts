import { gunzipSync } from 'node:zlib';
import {
  fromParsedObjectMetadata,
  parsedKeyForRaw,
  type QuarantineReport,
  quarantineKeyForEntry,
  quarantineKeyForRaw,
  quarantineReportKeyForEntry,
  quarantineReportKeyForRaw,
} from '@fanout/shared';
import { fakeContext, startTestS3, type TestS3 } from '@fanout/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createExtractorRegistry, handleS3Event } from '../../src/index.js';
import { entryLine, putPack } from '../helpers/packs.js';
import {
  countingClient,
  depsFor,
  FETCHED_AT,
  PUT_CLASS,
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

const JSON_ENTRY = {
  sourceId: 'api-json',
  format: 'json',
  formatOptions: { recordsPath: 'items' },
  body: '{"items":[{"id":1},{"id":2}]}',
};
const CSV_ENTRY = { sourceId: 'prices', page: 2, format: 'csv', body: 'sku,price\na,1.5\nb,2\n' };
const NDJSON_ENTRY = { sourceId: 'events', format: 'ndjson', body: '{"e":"x"}\n{"e":"y"}\n' };

function line(source: string, page: number, record: unknown) {
  return { source, run: RUN_ID, page, fetchedAt: FETCHED_AT, record };
}

async function quarantineKeys(packKey: string): Promise<string[]> {
  return s3.listKeys(`${quarantineKeyForRaw(packKey)}`);
}

describe('raw pack -> parser -> one parsed object (s3rver)', () => {
  it('parses json, csv and ndjson entries into one object, in entry order, with its outcome', async () => {
    // Prepare
    const { key, bytes } = await putPack(s3, [
      entryLine(JSON_ENTRY),
      entryLine(CSV_ENTRY),
      entryLine(NDJSON_ENTRY),
    ]);
    const { deps, counts } = depsFor(s3);

    // Act
    const summary = await handleS3Event(s3Event(s3.bucket, key), fakeContext(), deps);

    // Assess
    const outputKey = parsedKeyForRaw(key);
    expect(outputKey).toMatch(/^parsed\/dt=2026-11-25\/.+\.ndjson\.gz$/);
    const output = await s3.getBytes(outputKey);
    expect(gunzipLines(output)).toEqual([
      line('api-json', 0, { id: 1 }),
      line('api-json', 0, { id: 2 }),
      line('prices', 2, { sku: 'a', price: '1.5' }),
      line('prices', 2, { sku: 'b', price: '2' }),
      line('events', 0, { e: 'x' }),
      line('events', 0, { e: 'y' }),
    ]);
    const head = await s3.head(outputKey);
    expect(fromParsedObjectMetadata(head?.metadata)).toEqual({
      runId: RUN_ID,
      rawKey: key,
      pages: 3,
      parsed: 3,
      quarantined: 0,
      quarantinedPages: [],
      records: 6,
      bytesIn: bytes.length,
      bytesOut: output.length,
      parsedAt: '2026-11-25T13:10:30.000Z',
    });
    expect(summary).toMatchObject({ records: 6, pagesParsed: 3, pagesQuarantined: 0 });
    expect(summary.results).toMatchObject([{ status: 'parsed', key, outputKey }]);
    expect(await quarantineKeys(key)).toEqual([]);
    expect(await s3.listKeys('runs/')).toEqual([]);
    expect(counts.get('PagesParsed')).toBe(3);
  });

  it('costs the parser exactly one PUT-class request (PutObject) for a clean pack', async () => {
    // Prepare
    const { key } = await putPack(s3, [entryLine(JSON_ENTRY), entryLine(NDJSON_ENTRY)]);
    const { deps } = depsFor(s3);
    const counting = countingClient(s3);

    // Act
    await handleS3Event(s3Event(s3.bucket, key), fakeContext(), { ...deps, s3: counting.client });

    // Assess: a pack is written once, so nothing checks it again after the parse.
    expect(counting.commands).toEqual(['GetObjectCommand', 'PutObjectCommand']);
    expect(counting.commands.filter((name) => PUT_CLASS.has(name))).toEqual(['PutObjectCommand']);
    counting.client.destroy();
  });

  it('parses a single response again when a retried hop rewrote it while it was being parsed', async () => {
    // Prepare: the first version holds one record; a rewrite with two lands while the
    // parser stores the first version's output (as a retried collector hop would).
    const key = await putRaw(s3, 'rewritten', 'ndjson', '{"v":1}\n');
    const rewrite = '{"v":2}\n{"v":3}\n';
    const { deps } = depsFor(s3);
    const counting = countingClient(s3);
    let rewritten = false;
    counting.client.middlewareStack.add(
      (next, context) => async (args) => {
        const result = await next(args);
        if (context.commandName === 'PutObjectCommand' && !rewritten) {
          rewritten = true;
          await putRaw(s3, 'rewritten', 'ndjson', rewrite, { key });
        }
        return result;
      },
      { step: 'initialize', name: 'rewriteDuringParse' },
    );

    // Act
    await handleS3Event(s3Event(s3.bucket, key), fakeContext(), { ...deps, s3: counting.client });

    // Assess: the stored output and its outcome are of the second version.
    const parsed = await s3.head(parsedKeyForRaw(key));
    expect(fromParsedObjectMetadata(parsed?.metadata)).toMatchObject({ records: 2 });
    expect(counting.commands.filter((name) => name === 'GetObjectCommand')).toHaveLength(2);
    counting.client.destroy();
  });

  it('stores nothing for a pack that holds only its header (a hop with no pages)', async () => {
    const { key } = await putPack(s3, []);
    const { deps } = depsFor(s3);
    const counting = countingClient(s3);

    const summary = await handleS3Event(s3Event(s3.bucket, key), fakeContext(), {
      ...deps,
      s3: counting.client,
    });

    expect(summary.results).toEqual([{ status: 'empty', key }]);
    expect(counting.commands).toEqual(['GetObjectCommand']);
    expect(await s3.head(parsedKeyForRaw(key))).toBeUndefined();
    counting.client.destroy();
  });

  it('quarantines one bad entry alone (its line and a report) and parses the others', async () => {
    // Prepare
    const bad = { sourceId: 'broken', page: 1, format: 'csv', body: 'id,name\n1,a\n2,"b\n' };
    const badLine = entryLine(bad);
    const { key } = await putPack(s3, [entryLine(JSON_ENTRY), badLine, entryLine(NDJSON_ENTRY)]);
    const { deps, log } = depsFor(s3);

    // Act
    const summary = await handleS3Event(s3Event(s3.bucket, key), fakeContext(), deps);

    // Assess
    const output = await s3.getBytes(parsedKeyForRaw(key));
    expect(gunzipLines(output)).toEqual([
      line('api-json', 0, { id: 1 }),
      line('api-json', 0, { id: 2 }),
      line('events', 0, { e: 'x' }),
      line('events', 0, { e: 'y' }),
    ]);
    const copy = await s3.getBytes(quarantineKeyForEntry(key, 'broken', 1));
    expect(`${copy.toString('utf8')}\n`).toBe(badLine);
    const report = await s3.getJson<QuarantineReport>(
      quarantineReportKeyForEntry(key, 'broken', 1),
    );
    expect(report).toMatchObject({
      rawKey: key,
      sourceId: 'broken',
      page: 1,
      errorName: 'MalformedInputError',
      // The unclosed quote itself: line 3, after "id,name\n1,a\n2,".
      location: { line: 3, record: 1, byteOffset: 14 },
      metadata: { format: 'csv', 'pack-line': '3' },
    });
    expect(report.reason).toMatch(/^pack line 3, source broken page 1: malformed csv/);
    expect(await quarantineKeys(key)).toEqual([
      quarantineKeyForEntry(key, 'broken', 1),
      quarantineReportKeyForEntry(key, 'broken', 1),
    ]);
    const outcome = fromParsedObjectMetadata((await s3.head(parsedKeyForRaw(key)))?.metadata);
    expect(outcome).toMatchObject({
      pages: 3,
      parsed: 2,
      quarantined: 1,
      quarantinedPages: ['broken-p0001'],
      records: 4,
    });
    expect(summary.results[0]).toMatchObject({
      status: 'parsed',
      quarantinedEntries: [{ sourceId: 'broken', page: 1 }],
    });
    expect(log.entries.filter((e) => e.message === 'pack entry quarantined')).toHaveLength(1);
  });

  it('sends these requests: one PUT per clean pack, two more per bad entry, copy + report for an unreadable pack', async () => {
    // Prepare
    const clean = await putPack(s3, [entryLine(JSON_ENTRY), entryLine(CSV_ENTRY)]);
    const oneBad = await putPack(s3, [
      entryLine(JSON_ENTRY),
      entryLine({ sourceId: 'nope', format: 'ndjson', body: 'nope\n' }),
    ]);
    const unreadable = await putPack(s3, [entryLine(JSON_ENTRY)], 2);
    const { deps } = depsFor(s3);

    // Act
    const sent: Record<string, string[]> = {};
    for (const [name, { key }] of Object.entries({ clean, oneBad, unreadable })) {
      const counting = countingClient(s3);
      await handleS3Event(s3Event(s3.bucket, key), fakeContext(), {
        ...deps,
        s3: counting.client,
      });
      sent[name] = counting.commands;
      counting.client.destroy();
    }

    // Assess
    expect(sent).toEqual({
      clean: ['GetObjectCommand', 'PutObjectCommand'],
      oneBad: ['GetObjectCommand', 'PutObjectCommand', 'PutObjectCommand', 'PutObjectCommand'],
      unreadable: ['GetObjectCommand', 'CopyObjectCommand', 'PutObjectCommand'],
    });
  });

  it('parses an entry stored as base64 from its exact bytes, with a custom extractor', async () => {
    // Prepare
    const extractors = createExtractorRegistry();
    extractors.register('hex', async function* hex(input) {
      const chunks: Buffer[] = [];
      for await (const chunk of input) chunks.push(chunk as Buffer);
      yield { hex: Buffer.concat(chunks).toString('hex') };
    });
    const body = Buffer.from([0xff, 0x00, 0xfe, 0x41]);
    const stored = entryLine({ sourceId: 'binary', format: 'hex', body });
    expect(JSON.parse(stored)).toMatchObject({ bodyEncoding: 'base64' });
    const { key } = await putPack(s3, [stored]);
    const { deps } = depsFor(s3);

    // Act
    await handleS3Event(s3Event(s3.bucket, key), fakeContext(), { ...deps, extractors });

    // Assess
    expect(gunzipLines(await s3.getBytes(parsedKeyForRaw(key)))).toEqual([
      line('binary', 0, { hex: 'ff00fe41' }),
    ]);
  });

  it('quarantines an entry of an unknown format, naming the format', async () => {
    // Prepare
    const { key } = await putPack(s3, [
      entryLine({ sourceId: 'yaml-src', format: 'yaml', body: 'a: 1\n' }),
      entryLine(CSV_ENTRY),
    ]);
    const { deps } = depsFor(s3);

    // Act
    await handleS3Event(s3Event(s3.bucket, key), fakeContext(), deps);

    // Assess
    const report = await s3.getJson<QuarantineReport>(
      quarantineReportKeyForEntry(key, 'yaml-src', 0),
    );
    expect(report.errorName).toBe('UnknownFormatError');
    expect(report.reason).toContain('unknown format "yaml"');
    expect(report.location).toEqual({ line: 2 });
    expect(gunzipLines(await s3.getBytes(parsedKeyForRaw(key)))).toHaveLength(2);
  });

  it('quarantines a line that is not a valid entry under its own name or entry-<index>', async () => {
    // Prepare
    const noSource = '{"page":0,"format":"json","body":"[]"}\n';
    const badField = `${JSON.stringify({ ...JSON.parse(entryLine(CSV_ENTRY)), httpStatus: 'x' })}\n`;
    const { key } = await putPack(s3, [noSource, entryLine(NDJSON_ENTRY), badField]);
    const { deps } = depsFor(s3);

    // Act
    const summary = await handleS3Event(s3Event(s3.bucket, key), fakeContext(), deps);

    // Assess
    const nameless = await s3.getJson<QuarantineReport>(
      quarantineReportKeyForEntry(key, 'entry-0', 0),
    );
    expect(nameless).toMatchObject({
      errorName: 'InvalidPackEntryError',
      sourceId: 'entry-0',
      location: { line: 2 },
    });
    expect(nameless.reason).toContain('sourceId');
    expect((await s3.getBytes(quarantineKeyForEntry(key, 'entry-0', 0))).toString()).toBe(
      noSource.trimEnd(),
    );
    const named = await s3.getJson<QuarantineReport>(quarantineReportKeyForEntry(key, 'prices', 2));
    expect(named.reason).toContain('httpStatus');
    expect(summary).toMatchObject({ pagesParsed: 1, pagesQuarantined: 2, records: 2 });
  });

  it('still writes an empty parsed object with its outcome when every entry is quarantined', async () => {
    // Prepare
    const { key } = await putPack(s3, [
      entryLine({ sourceId: 'bad-a', format: 'ndjson', body: 'nope\n' }),
      entryLine({ sourceId: 'bad-b', format: 'json', body: '{' }),
    ]);
    const { deps } = depsFor(s3);

    // Act
    await handleS3Event(s3Event(s3.bucket, key), fakeContext(), deps);

    // Assess
    const output = await s3.getBytes(parsedKeyForRaw(key));
    expect(gunzipSync(output).length).toBe(0);
    expect(fromParsedObjectMetadata((await s3.head(parsedKeyForRaw(key)))?.metadata)).toMatchObject(
      {
        pages: 2,
        parsed: 0,
        quarantined: 2,
        quarantinedPages: ['bad-a-p0000', 'bad-b-p0000'],
        records: 0,
        bytesOut: output.length,
      },
    );
  });

  it('rewrites identical bytes for a duplicate event (no duplicate records)', async () => {
    // Prepare
    const { key } = await putPack(s3, [entryLine(JSON_ENTRY), entryLine(CSV_ENTRY)]);
    const event = s3Event(s3.bucket, key);
    await handleS3Event(event, fakeContext(), depsFor(s3).deps);
    const first = await s3.getBytes(parsedKeyForRaw(key));
    const later = depsFor(s3);
    later.clock.advance(60_000);

    // Act
    await handleS3Event(event, fakeContext(), later.deps);

    // Assess
    const second = await s3.getBytes(parsedKeyForRaw(key));
    expect(second.equals(first)).toBe(true);
    expect(gunzipLines(second)).toHaveLength(4);
  });

  it.each([
    {
      name: 'corrupt gzip',
      make: (good: Buffer) => {
        const corrupt = Buffer.from(good);
        corrupt.fill(0x55, 30, 60);
        return corrupt;
      },
      config: {},
      reason: /^unreadable pack: (not a readable gzip stream|not JSON|invalid pack header)/,
    },
    {
      name: 'pack cut short',
      make: (good: Buffer) => good.subarray(0, good.length - 25),
      config: {},
      reason: /^unreadable pack: not a readable gzip stream: unexpected end of file/,
    },
    {
      name: 'truncated pack (fewer entries than announced)',
      announced: 3,
      config: {},
      reason: /^unreadable pack: truncated: the header announces 3 entries, found 2/,
    },
    {
      name: 'line over maxPackLineBytes',
      config: { maxPackLineBytes: 300 },
      reason: /^unreadable pack: line longer than 300 bytes \(pack line 2\)/,
    },
    {
      name: 'pack over maxRawBytes',
      config: { maxRawBytes: 100 },
      reason: /over the 100-byte limit \(FANOUT_MAX_RAW_BYTES\)/,
    },
  ])('quarantines the whole pack for a $name and writes no parsed object', async (test) => {
    // Prepare
    const lines = [
      entryLine({ ...JSON_ENTRY, body: `{"items":[${'1,'.repeat(200)}1]}` }),
      entryLine(NDJSON_ENTRY),
    ];
    const stored = await putPack(s3, lines, test.announced);
    let bytes = stored.bytes;
    if (test.make) {
      bytes = test.make(stored.bytes);
      await s3.putText(stored.key, bytes);
    }
    const { key } = stored;
    const { deps } = depsFor(s3, test.config);

    // Act
    const summary = await handleS3Event(s3Event(s3.bucket, key), fakeContext(), deps);

    // Assess
    expect(summary.results).toMatchObject([{ status: 'quarantined', key }]);
    expect(await s3.head(parsedKeyForRaw(key))).toBeUndefined();
    expect((await s3.getBytes(quarantineKeyForRaw(key))).equals(bytes)).toBe(true);
    const report = await s3.getJson<QuarantineReport>(quarantineReportKeyForRaw(key));
    expect(report.rawKey).toBe(key);
    expect(report.reason).toMatch(test.reason);
    expect(await quarantineKeys(key)).toEqual([
      quarantineKeyForRaw(key),
      quarantineReportKeyForRaw(key),
    ]);
  });
});
