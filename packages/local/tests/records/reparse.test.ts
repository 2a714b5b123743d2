import { DeleteObjectCommand } from '@aws-sdk/client-s3';
import { parseDefinitionsOf, parseManifestText, parseS3Event } from '@fanout/shared';
import { startTestS3, type TestS3 } from '@fanout/testkit';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { DeadLetter } from '../../src/lambda/index.js';
import { manifestDefinitions, type ReparseDeps, reparseObjects } from '../../src/reparse.js';
import { type InvokeAsync, reparseEvent } from '../../src/replay.js';
import { type Listed, RunRecordReader } from '../../src/run-records.js';
import { aResult, ok, packKey, putPack, putParsed, putQuarantined, singleKey } from './fixtures.js';

let s3: TestS3;

beforeAll(async () => {
  s3 = await startTestS3();
});

afterAll(async () => {
  await s3?.stop();
});

beforeEach(async () => {
  for (const key of await s3.listKeys()) {
    await s3.client.send(new DeleteObjectCommand({ Bucket: s3.bucket, Key: key }));
  }
});

type Behaviour = 'parse' | 'quarantine-one-entry' | 'quarantine' | 'die' | 'ignore';

/** A parser at the edge: per raw key it parses, quarantines, dies (a dead letter) or never answers. */
function fakeParser(behaviour: Record<string, Behaviour>) {
  const letters: DeadLetter[] = [];
  const sent: string[] = [];
  const now = () => new Date().toISOString();
  const invoke: InvokeAsync = async (_name, event) => {
    for (const { key } of parseS3Event(event).objects) {
      sent.push(key);
      const what = behaviour[key] ?? 'parse';
      if (what === 'parse') await putParsed(s3, key, { parsedAt: now() });
      if (what === 'quarantine-one-entry') {
        await putParsed(s3, key, {
          pages: 3,
          parsed: 2,
          quarantined: 1,
          quarantinedPages: ['b-p0000'],
          parsedAt: now(),
        });
      }
      if (what === 'quarantine') await putQuarantined(s3, key, 'malformed json at byte 3', now());
      if (what === 'die') {
        letters.push({
          id: `letter-${letters.length}`,
          functionName: 'fanout-parser',
          requestId: 'r',
          event,
          error: { type: 'Runtime.OutOfMemory', message: 'worker ran out of memory' },
          attempts: 3,
          firstReceivedAt: now(),
          lastAttemptAt: now(),
          reason: 'retries-exhausted',
        });
      }
    }
  };
  return { invoke, letters, sent };
}

async function listed(keys: string[]): Promise<Listed[]> {
  for (const key of keys) await s3.putText(key, 'raw');
  const reader = new RunRecordReader(s3.client, s3.bucket);
  return (await reader.list('raw/')).filter((item) => keys.includes(item.key));
}

function deps(
  parser: ReturnType<typeof fakeParser>,
  extra: Partial<ReparseDeps> = {},
): ReparseDeps {
  return {
    reader: new RunRecordReader(s3.client, s3.bucket),
    bucket: s3.bucket,
    invoke: parser.invoke,
    parser: 'fanout-parser',
    settle: async () => {},
    deadLetters: async () => parser.letters,
    ...extra,
  };
}

describe('reparseObjects', () => {
  it('reports each object by its own new outcome: a stale parsed object does not hide a dead letter', async () => {
    // Prepare: every object was parsed before; this time one dies and one is quarantined.
    const pack = packKey('b00000');
    const good = singleKey('a');
    const dies = singleKey('b');
    const broken = singleKey('c');
    const objects = await listed([pack, good, dies, broken]);
    for (const key of [pack, good, dies, broken]) {
      await putParsed(s3, key, { parsedAt: '2026-11-29T08:11:00.000Z' });
    }
    const parser = fakeParser({
      [pack]: 'quarantine-one-entry',
      [dies]: 'die',
      [broken]: 'quarantine',
    });

    // Act
    const report = await reparseObjects(objects, deps(parser));

    // Assess
    expect(parser.sent.sort()).toEqual([pack, good, dies, broken].sort());
    expect(report).toMatchObject({
      parsed: 1,
      someQuarantined: 1,
      quarantined: 1,
      deadLettered: 1,
      noOutcome: 0,
    });
    expect(report).toMatchObject({ pages: 5, pagesParsed: 3, pagesQuarantined: 2 });
    expect(Object.fromEntries(report.failures.map((f) => [f.key, [f.status, f.reason]]))).toEqual({
      [pack]: ['some-quarantined', '1 of 3 pages quarantined'],
      [dies]: ['dead-lettered', 'Runtime.OutOfMemory: worker ran out of memory'],
      [broken]: ['quarantined', 'malformed json at byte 3'],
    });
  });

  it('does not take an outcome decided a moment before the send for its own', async () => {
    // Prepare: parsed (quarantined) half a second ago, inside the clock slack; this
    // reparse's parser never answers.
    const key = singleKey('a');
    const objects = await listed([key]);
    await putQuarantined(
      s3,
      key,
      'malformed json at byte 3',
      new Date(Date.now() - 500).toISOString(),
    );
    const parser = fakeParser({ [key]: 'ignore' });

    // Act
    const report = await reparseObjects(objects, deps(parser));

    // Assess: the earlier outcome is not this reparse's.
    expect(report).toMatchObject({ quarantined: 0, noOutcome: 1 });
  });

  it('does not count a dead letter from before the reparse', async () => {
    // Prepare
    const key = singleKey('a');
    const objects = await listed([key]);
    const parser = fakeParser({});
    parser.letters.push({
      id: 'old',
      functionName: 'fanout-parser',
      requestId: 'r',
      event: { Records: [] },
      error: { type: 'Error', message: 'old' },
      attempts: 3,
      firstReceivedAt: '2026-11-29T08:00:00.000Z',
      lastAttemptAt: '2026-11-29T08:00:00.000Z',
      reason: 'retries-exhausted',
    });

    // Act
    const report = await reparseObjects(objects, deps(parser));

    // Assess
    expect(report).toMatchObject({ parsed: 1, deadLettered: 0, failures: [] });
  });

  it('without a local cloud, polls until the wait ends and names the objects still without an outcome', async () => {
    // Prepare
    const answered = singleKey('a');
    const silent = singleKey('b');
    const objects = await listed([answered, silent]);
    const parser = fakeParser({ [silent]: 'ignore' });
    let clock = Date.now();
    const polls: number[] = [];

    // Act
    const report = await reparseObjects(objects, {
      reader: new RunRecordReader(s3.client, s3.bucket),
      bucket: s3.bucket,
      invoke: parser.invoke,
      parser: 'fanout-parser',
      maxWaitMs: 30_000,
      pollMs: 10_000,
      now: () => clock,
      sleep: async (ms) => {
        polls.push(ms);
        clock += ms;
      },
    });

    // Assess
    expect(polls).toEqual([10_000, 10_000, 10_000]);
    expect(report).toMatchObject({ parsed: 1, noOutcome: 1 });
    expect(report.failures.map((f) => [f.key, f.status])).toEqual([[silent, 'no-outcome']]);
  });
});

describe('manifestDefinitions', () => {
  const sources = new Map(
    parseManifestText(
      JSON.stringify({
        sources: [
          {
            id: 'a',
            url: 'https://example.test/a',
            format: 'json',
            options: { recordsPath: 'd.i' },
          },
          { id: 'c', url: 'https://example.test/c', format: 'csv', options: { delimiter: ';' } },
        ],
      }),
    ).sources.map((source) => [source.id, source]),
  );

  it('names the current definition of each source whose pages an object holds', async () => {
    // Prepare: a pack holding a's page (and b, which left the manifest: it keeps what was stored).
    const key = await putPack(
      s3,
      aResult('b00000', [
        ok('a', [packKey('b00000')]),
        ok('b', [packKey('b00000')]),
        ok('c', [singleKey('c')]),
      ]),
    );
    const definitions = manifestDefinitions(sources, new RunRecordReader(s3.client, s3.bucket));

    // Act
    const ofPack = await definitions(key);
    const ofSingle = await definitions(singleKey('c'));

    // Assess
    expect(ofPack).toEqual({ a: { format: 'json', formatOptions: { recordsPath: 'd.i' } } });
    expect(ofSingle).toEqual({ c: { format: 'csv', formatOptions: { delimiter: ';' } } });
  });

  it('carries them in the event the parser gets', () => {
    const event = reparseEvent('bucket', singleKey('c'), 'us-east-1', 0, {
      c: { format: 'csv', formatOptions: { delimiter: ';' } },
    });
    expect(parseDefinitionsOf(event)).toEqual(
      new Map([['c', { format: 'csv', formatOptions: { delimiter: ';' } }]]),
    );
    expect(parseDefinitionsOf(reparseEvent('bucket', singleKey('c')))).toBeUndefined();
  });
});
