import { gzipSync } from 'node:zlib';
import { computeRunStatus } from '@fanout/shared';
import { startTestS3, type TestS3 } from '@fanout/testkit';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { problemsOf } from '../../src/commands/problems.js';
import { RunRecordReader } from '../../src/run-records.js';
import {
  aManifest,
  aResult,
  failed,
  ok,
  packKey,
  putManifest,
  putPack,
  putParsed,
  putQuarantined,
  putQuarantinedEntry,
  putResult,
  RUN_ID,
  singleKey,
  unchanged,
} from './fixtures.js';

let s3: TestS3;

beforeAll(async () => {
  s3 = await startTestS3();
});

afterAll(async () => {
  await s3?.stop();
});

async function emptyBucket(): Promise<void> {
  const { DeleteObjectCommand } = await import('@aws-sdk/client-s3');
  for (const key of await s3.listKeys()) {
    await s3.client.send(new DeleteObjectCommand({ Bucket: s3.bucket, Key: key }));
  }
}

beforeEach(emptyBucket);

function reader(): RunRecordReader {
  return new RunRecordReader(s3.client, s3.bucket);
}

describe('RunRecordReader.records', () => {
  it('reads hop outcomes from pack headers and from result objects, and outcomes per raw object', async () => {
    // Prepare
    await putManifest(
      s3,
      aManifest([
        ['a', 'b'],
        ['c', 'd'],
      ]),
    );
    const pack = await putPack(
      s3,
      aResult('b00000', [ok('a', [packKey('b00000'), packKey('b00000')]), unchanged('b')]),
    );
    const single = singleKey('d');
    await putResult(s3, aResult('b00001', [failed('c'), ok('d', [single])]));
    await putParsed(s3, pack, { pages: 2, parsed: 2 });
    await putQuarantined(s3, single, 'malformed json at byte 7');

    // Act
    const records = await reader().records(RUN_ID);
    const status = computeRunStatus(RUN_ID, records);

    // Assess
    expect(records.results.map((r) => r.batchId).sort()).toEqual(['b00000', 'b00001']);
    expect(records.rawOutcomes.get(pack)).toMatchObject({ status: 'parsed' });
    expect(records.rawOutcomes.get(single)).toEqual({
      status: 'quarantined',
      reason: 'malformed json at byte 7',
    });
    expect(status).toMatchObject({
      complete: true,
      sources: 4,
      collected: 2,
      unchanged: 1,
      failed: 1,
      rawObjects: 2,
      pages: 3,
      parsed: 2,
      quarantined: 1,
      unparsed: 0,
    });
  });

  it('reads only the header of a pack: entries a full read would reject do not matter', async () => {
    // Prepare
    await putManifest(s3, aManifest([['a']]));
    const pack = await putPack(
      s3,
      aResult('b00000', [ok('a', [packKey('b00000')])]),
      gzipSync('not even JSON\n'),
    );

    // Act
    const records = await reader().records(RUN_ID);

    // Assess
    expect(records.results).toHaveLength(1);
    expect(records.results[0]?.outcomes[0]).toMatchObject({ sourceId: 'a', rawKeys: [pack] });
  });

  it("leaves out the packs of a run whose id starts with this run's id", async () => {
    // Prepare
    await putManifest(s3, aManifest([['a']], { runId: 'manual' }));
    await putPack(
      s3,
      aResult('b00000', [ok('a', [packKey('b00000', 0, 'manual')])], { runId: 'manual' }),
    );
    await putPack(
      s3,
      aResult('b00000', [ok('z', [packKey('b00000', 0, 'manual-2')])], { runId: 'manual-2' }),
    );

    // Act
    const records = await reader().records('manual');

    // Assess
    expect(records.results.flatMap((r) => r.outcomes.map((o) => o.sourceId))).toEqual(['a']);
  });

  it('counts a raw object with neither a parsed object nor a report as waiting', async () => {
    // Prepare
    await putManifest(s3, aManifest([['a', 'b']]));
    const pack = await putPack(
      s3,
      aResult('b00000', [ok('a', [packKey('b00000')]), ok('b', [packKey('b00000')])]),
    );

    // Act
    const status = await reader().status(RUN_ID);

    // Assess
    expect(status).toMatchObject({ complete: false, pages: 2, parsed: 0, unparsed: 2 });
    expect(status.unparsedKeys).toEqual([pack]);
  });

  it('counts the entries of a pack quarantined on their own, and names them with their reasons', async () => {
    // Prepare
    await putManifest(s3, aManifest([['a', 'b', 'c']]));
    const pack = await putPack(
      s3,
      aResult('b00000', [
        ok('a', [packKey('b00000')]),
        ok('b', [packKey('b00000')]),
        ok('c', [packKey('b00000')]),
      ]),
    );
    await putParsed(s3, pack, {
      pages: 3,
      parsed: 2,
      quarantined: 1,
      quarantinedPages: ['b-p0000'],
    });
    await putQuarantinedEntry(s3, pack, 'b', 0, 'unexpected end of JSON');
    const read = reader();

    // Act
    const records = await read.records(RUN_ID);
    const status = computeRunStatus(RUN_ID, records);
    const problems = await problemsOf(RUN_ID, records, read);

    // Assess
    expect(status).toMatchObject({ complete: true, pages: 3, parsed: 2, quarantined: 1 });
    expect(problems.total).toBe(1);
    expect(problems.shown[0]).toMatchObject({
      kind: 'quarantined',
      sourceId: 'b',
      rawKey: pack,
      reason: 'unexpected end of JSON',
    });
  });

  it('takes the parsed object for the outcome, and a newer report when asked for one since a time', async () => {
    // Prepare: parsed at 08:11, then a reparse quarantined it whole at 09:00.
    const single = singleKey('a');
    await putParsed(s3, single, { parsedAt: '2026-11-29T08:11:00.000Z' });
    await putQuarantined(s3, single, 'reparse found it broken', '2026-11-29T09:00:00.000Z');

    // Act
    const any = await reader().readRawOutcome(single);
    const since0830 = await reader().readRawOutcome(single, Date.parse('2026-11-29T08:30:00Z'));
    const sinceNoon = await reader().readRawOutcome(single, Date.parse('2026-11-29T12:00:00Z'));

    // Assess
    expect(any?.outcome.status).toBe('parsed');
    expect(since0830).toEqual({
      outcome: { status: 'quarantined', reason: 'reparse found it broken' },
      at: '2026-11-29T09:00:00.000Z',
    });
    expect(sinceNoon).toBeUndefined();
  });
});

describe('RunRecordReader.latestRunId', () => {
  it('is the latest run by its manifest time, not by id text, and skips prefixes without a manifest', async () => {
    // Prepare
    await putManifest(s3, aManifest([['a']]));
    await putManifest(
      s3,
      aManifest([['a']], {
        runId: 'manual-1',
        trigger: 'manual',
        scheduledAt: '2026-11-29T07:00:00.000Z',
        createdAt: '2026-11-29T07:00:00.000Z',
      }),
    );
    await putManifest(
      s3,
      aManifest([['a']], { runId: '20261128T081000Z', scheduledAt: '2026-11-28T08:10:00.000Z' }),
    );
    // A later run's records without its manifest (not a run yet), and an invalid event.
    await putResult(s3, aResult('b00000', [unchanged('a')], { runId: '20261129T090000Z' }));
    await s3.putJson('runs/_invalid/2026-11-29/req-1.json', { reason: 'bad event' });

    // Act
    const latest = await reader().latestRunId();

    // Assess
    expect(latest).toBe(RUN_ID);
  });

  it('is a manual run when it is the latest by time', async () => {
    // Prepare
    await putManifest(s3, aManifest([['a']]));
    await putManifest(
      s3,
      aManifest([['a']], {
        runId: 'manual-2',
        trigger: 'manual',
        scheduledAt: '2026-11-29T09:30:00.000Z',
        createdAt: '2026-11-29T09:30:00.000Z',
      }),
    );

    // Act
    const latest = await reader().latestRunId();

    // Assess
    expect(latest).toBe('manual-2');
  });

  it('is undefined in a bucket without runs', async () => {
    expect(await reader().latestRunId()).toBeUndefined();
  });
});
