import type { S3Client } from '@aws-sdk/client-s3';
import {
  fromParsedObjectMetadata,
  type ParsedObjectOutcome,
  parsedKeyForRaw,
  rawKey,
  toS3Metadata,
} from '@fanout/shared';
import { localS3Client, startTestS3, type TestS3 } from '@fanout/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ParserDeps, PreviousFetches, parseRawObject } from '../../src/index.js';
import { entryLine, putPack, type TestEntry } from '../helpers/packs.js';
import { depsFor, metadataFor, RUN_ID, SCHEDULED_AT } from '../helpers/s3.js';
import { gunzipLines } from '../helpers/streams.js';

/**
 * emit: "changes" and cursors through S3: the parser reads the previous fetch's raw objects
 * again (a pack once, whatever the number of sources it serves) and writes only what is new.
 */

let s3: TestS3;

beforeAll(async () => {
  s3 = await startTestS3();
});
afterAll(async () => {
  await s3.stop();
});

const ndjson = (...records: unknown[]) => records.map((r) => `${JSON.stringify(r)}\n`).join('');

/** A client for the parser that records each request as `<command> <key>`. */
function recordingClient(): { client: S3Client; requests: string[] } {
  const client = localS3Client(s3.endpoint);
  const requests: string[] = [];
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const input = args.input as { Key?: string };
      requests.push(`${context.commandName ?? 'unknown'} ${input.Key ?? ''}`);
      return next(args);
    },
    { step: 'initialize', name: 'recordRequests' },
  );
  return { client, requests };
}

async function parse(key: string, extra: Partial<ParserDeps> = {}) {
  const { deps, log } = depsFor(s3);
  const recording = recordingClient();
  const result = await parseRawObject({ ...deps, s3: recording.client, ...extra }, key);
  recording.client.destroy();
  if (result.status !== 'parsed') throw new Error(`not parsed: ${result.status}`);
  const lines = gunzipLines(await s3.getBytes(result.outputKey)) as {
    source: string;
    record: unknown;
  }[];
  const head = await s3.head(result.outputKey);
  return {
    result,
    log,
    requests: recording.requests,
    outcome: fromParsedObjectMetadata(head?.metadata) as ParsedObjectOutcome,
    records: (source: string) =>
      lines.filter((line) => line.source === source).map((line) => line.record),
  };
}

const news = (
  body: string,
  selection: TestEntry['selection'] = { emit: 'changes' },
): TestEntry => ({
  sourceId: 'news',
  format: 'ndjson',
  key: ['id'],
  selection,
  body,
});

describe('emit: changes, through S3', () => {
  it('writes only the records the previous fetch did not produce', async () => {
    // Prepare
    const previous = await putPack(s3, [
      entryLine(news(ndjson({ id: 'a', v: 1 }, { id: 'b', v: 1 }, { id: 'c', v: 1 }))),
    ]);
    const body = ndjson({ id: 'a', v: 2 }, { id: 'b', v: 1 }, { id: 'c', v: 1 }, { id: 'd', v: 1 });
    const { key } = await putPack(
      s3,
      [entryLine(news(body, { emit: 'changes', previousRawKeys: [previous.key] }))],
      undefined,
      ['news'],
    );

    // Act
    const parsed = await parse(key);

    // Assess
    expect(parsed.records('news')).toEqual([
      { id: 'a', v: 2 },
      { id: 'd', v: 1 },
    ]);
    expect(parsed.outcome).toMatchObject({ pages: 1, parsed: 1, records: 2 });
    expect(parsed.outcome.cursors).toBeUndefined();
    expect(parsed.requests).toEqual([
      `GetObjectCommand ${key}`,
      `GetObjectCommand ${previous.key}`,
      `PutObjectCommand ${parsedKeyForRaw(key)}`,
    ]);
  });

  it('reads a previous pack once for every source of the pack being parsed that needs it', async () => {
    // Prepare
    const source = (sourceId: string, body: string, previousRawKeys?: string[]): TestEntry => ({
      sourceId,
      format: 'ndjson',
      selection: { emit: 'changes', ...(previousRawKeys ? { previousRawKeys } : {}) },
      body,
    });
    const previous = await putPack(s3, [
      entryLine(source('x', ndjson({ n: 1 }, { n: 2 }))),
      entryLine({ sourceId: 'other', format: 'ndjson', body: ndjson({ z: 1 }) }),
      entryLine(source('y', ndjson({ m: 1 }))),
    ]);
    const { key } = await putPack(
      s3,
      [
        entryLine(source('x', ndjson({ n: 1 }, { n: 3 }), [previous.key])),
        entryLine(source('y', ndjson({ m: 1 }, { m: 2 }), [previous.key])),
      ],
      undefined,
      ['x', 'y'],
    );

    // Act
    const parsed = await parse(key);

    // Assess
    expect(parsed.records('x')).toEqual([{ n: 3 }]);
    expect(parsed.records('y')).toEqual([{ m: 2 }]);
    expect(parsed.requests.filter((r) => r.endsWith(previous.key))).toHaveLength(1);
  });

  it('writes every record when the previous fetch is gone or its page did not parse', async () => {
    // Prepare: a key no object has (an expiry rule took it), and a page that was quarantined.
    const gone = rawKey({
      sourceId: 'news',
      scheduledAt: SCHEDULED_AT,
      runId: '20261125T120000Z',
      page: 0,
      extension: 'ndjson',
    });
    const quarantined = await putPack(s3, [
      entryLine({ ...news('{"id":"a",\n'), sourceId: 'news-2' }),
    ]);
    const body = ndjson({ id: 'a', v: 1 }, { id: 'b', v: 1 });
    const { key } = await putPack(
      s3,
      [
        entryLine({ ...news(body, { emit: 'changes', previousRawKeys: [gone] }), page: 0 }),
        entryLine({
          ...news(body, { emit: 'changes', previousRawKeys: [quarantined.key] }),
          sourceId: 'news-2',
        }),
      ],
      undefined,
      ['news', 'news-2'],
    );

    // Act
    const parsed = await parse(key);

    // Assess
    expect(parsed.records('news')).toHaveLength(2);
    expect(parsed.records('news-2')).toHaveLength(2);
    const reasons = parsed.log.entries
      .filter((entry) => entry.message.startsWith('previous fetch not compared'))
      .map((entry) => (entry.extra[0] as { reason: string }).reason);
    expect(reasons).toHaveLength(2);
    expect(reasons[0]).toBe(`${gone}: not found`);
    expect(reasons[1]).toMatch(`${quarantined.key}: page 0 does not parse (`);
  });

  it("compares a page the previous fetch could not parse then with the reparse's definition", async () => {
    // Prepare: both fetches stored with a wrong recordsPath; the reparse brings the right one.
    const api = (body: string, previousRawKeys?: string[]): TestEntry => ({
      sourceId: 'api',
      format: 'json',
      formatOptions: { recordsPath: 'itemz' },
      key: ['id'],
      selection: { emit: 'changes', ...(previousRawKeys ? { previousRawKeys } : {}) },
      body,
    });
    const previous = await putPack(s3, [entryLine(api('{"items":[{"id":1},{"id":2}]}'))]);
    const { key } = await putPack(
      s3,
      [entryLine(api('{"items":[{"id":1},{"id":2},{"id":3}]}', [previous.key]))],
      undefined,
      ['api'],
    );
    const definitions = new Map([
      ['api', { format: 'json', formatOptions: { recordsPath: 'items' } }],
    ]);

    // Act
    const parsed = await parse(key, { definitions });

    // Assess
    expect(parsed.records('api')).toEqual([{ id: 3 }]);
  });

  it('writes the same bytes when parsed again (a retry, a reparse)', async () => {
    // Prepare
    const previous = await putPack(s3, [entryLine(news(ndjson({ id: 'a' }, { id: 'b' })))]);
    const { key } = await putPack(
      s3,
      [
        entryLine(
          news(ndjson({ id: 'a' }, { id: 'c' }), {
            emit: 'changes',
            previousRawKeys: [previous.key],
          }),
        ),
      ],
      undefined,
      ['news'],
    );

    // Act
    const first = await parse(key);
    const bytes = await s3.getBytes(first.result.outputKey);
    await parse(key);

    // Assess
    expect(first.records('news')).toEqual([{ id: 'c' }]);
    expect(await s3.getBytes(first.result.outputKey)).toEqual(bytes);
  });

  it('never compares a page with the raw object it is in', async () => {
    // A state cannot name the fetch being parsed as its previous one: a guard all the same.
    const { key } = await putPack(s3, [entryLine(news(ndjson({ id: 'a' })))], undefined, ['news']);
    const { deps } = depsFor(s3);
    const pairs = await new PreviousFetches(deps, () => true).pairsOf(
      'news',
      [key],
      { format: 'ndjson', formatOptions: {}, recordKey: ['id'] },
      key,
    );
    expect(pairs).toEqual({ ok: false, problem: `names the raw object being parsed (${key})` });
  });
});

describe('a cursor, through S3', () => {
  const at = (minute: number) => `2026-11-25T13:${String(minute).padStart(2, '0')}:00Z`;
  const events = (page: number, body: string, value?: string): TestEntry => ({
    sourceId: 'events',
    page,
    format: 'ndjson',
    selection: { cursor: { field: 'at', ...(value !== undefined ? { value } : {}) } },
    body,
  });

  it("reports each source's highest value in the parse outcome, over all its pages", async () => {
    // Prepare
    const start = JSON.stringify(at(10));
    const { key } = await putPack(
      s3,
      [
        entryLine(events(0, ndjson({ id: 1, at: at(9) }, { id: 2, at: at(12) }), start)),
        entryLine(events(1, ndjson({ id: 3, at: at(11) }, { id: 4, at: at(10) }), start)),
        entryLine({
          sourceId: 'ids',
          format: 'ndjson',
          selection: { cursor: { field: 'id' } },
          body: ndjson({ id: 7 }, { id: 5 }),
        }),
      ],
      undefined,
      ['events', 'ids'],
    );

    // Act
    const parsed = await parse(key);

    // Assess
    expect(parsed.records('events')).toEqual([
      { id: 2, at: at(12) },
      { id: 3, at: at(11) },
    ]);
    expect(parsed.outcome.cursors).toEqual({ events: JSON.stringify(at(12)), ids: '7' });
  });

  it('reports no cursor for a source with a quarantined page: its records were not written', async () => {
    // Prepare
    const { key } = await putPack(
      s3,
      [
        entryLine(events(0, ndjson({ id: 1, at: at(12) }))),
        entryLine(events(1, '{"id":2,"at":\n')),
        entryLine({
          sourceId: 'ids',
          format: 'ndjson',
          selection: { cursor: { field: 'id', value: '1' } },
          body: ndjson({ id: 2 }),
        }),
      ],
      undefined,
      ['events', 'ids'],
    );

    // Act
    const parsed = await parse(key);

    // Assess
    expect(parsed.outcome).toMatchObject({ quarantined: 1, cursors: { ids: '2' } });
    expect(parsed.outcome.cursors).not.toHaveProperty('events');
  });

  it('filters a single raw object by the emit and cursor its metadata carries', async () => {
    // Prepare
    const put = async (runId: string, body: string, extra: object) => {
      const key = rawKey({
        sourceId: 'big',
        scheduledAt: SCHEDULED_AT,
        runId,
        page: 0,
        extension: 'ndjson',
      });
      const metadata = {
        ...metadataFor('big', 'ndjson', body),
        runId,
        recordKey: ['id'],
        ...extra,
      };
      await s3.putText(key, body, toS3Metadata(metadata));
      return key;
    };
    const previous = await put('20261125T130000Z', ndjson({ id: 1, n: 1 }, { id: 2, n: 2 }), {});
    const key = await put(RUN_ID, ndjson({ id: 1, n: 1 }, { id: 2, n: 3 }, { id: 3, n: 0 }), {
      previousRawKeys: [previous],
      cursor: { field: 'n', value: '1' },
    });

    // Act
    const parsed = await parse(key);

    // Assess
    expect(parsed.records('big')).toEqual([{ id: 2, n: 3 }]);
    expect(parsed.outcome.cursors).toEqual({ big: '3' });
  });
});
