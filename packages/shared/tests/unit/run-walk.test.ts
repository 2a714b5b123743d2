import { describe, expect, it } from 'vitest';
import {
  type BatchResult,
  type HopRecord,
  type HopRecordReader,
  type Redispatch,
  walkRun,
} from '../../src/index.js';
import { aBatchResult, aRunManifest, failedOutcome, okOutcome } from '../helpers/factories.js';

const OPTIONS = { followRedispatches: true, maxHops: 20, concurrency: 4 };

/** Hop records by `<batch>-h<hop>`, counting every read. */
function records(
  results: BatchResult[],
  redispatches: Redispatch[] = [],
  settled: string[] = [],
): HopRecordReader & { reads: string[] } {
  const byHop = new Map(results.map((r) => [`${r.batchId}-h${r.hop}`, r]));
  const again = new Map(redispatches.map((r) => [`${r.fromBatchId}-h${r.fromHop}`, r]));
  const reads: string[] = [];
  return {
    reads,
    hop: async ({ batchId, hop }): Promise<HopRecord> => {
      const id = `${batchId}-h${hop}`;
      reads.push(id);
      const result = byHop.get(id);
      if (result) return { kind: 'result', result };
      return settled.includes(id)
        ? { kind: 'settled', reason: 'failure record' }
        : { kind: 'none' };
    },
    redispatch: async ({ batchId, hop }) => again.get(`${batchId}-h${hop}`),
  };
}

function redispatch(from: string, hop: number, to: string, sourceIds: string[]): Redispatch {
  return {
    runId: 'r',
    fromBatchId: from,
    fromHop: hop,
    batchId: to,
    sourceIds,
    dispatchedAt: '2026-11-25T13:30:00.000Z',
  };
}

describe('walkRun', () => {
  it('follows what each hop continued, and reads each hop once', async () => {
    const manifest = aRunManifest([['a', 'b', 'c']]);
    const reader = records([
      aBatchResult([okOutcome('a')], { continued: ['b', 'c'] }),
      aBatchResult([okOutcome('b'), okOutcome('c')], { hop: 1 }),
    ]);

    const walk = await walkRun(manifest, reader, OPTIONS);

    expect(walk.results.map((r) => r.hop)).toEqual([0, 1]);
    expect(walk.silent).toEqual([]);
    expect(walk.unaccounted).toEqual([]);
    expect(reader.reads).toEqual(['b00000-h0', 'b00000-h1']);
  });

  it('reports the hop where continued tasks went silent', async () => {
    const manifest = aRunManifest([['a', 'b'], ['c']]);
    const reader = records([aBatchResult([okOutcome('a')], { continued: ['b'] })]);

    const walk = await walkRun(manifest, reader, OPTIONS);

    expect(walk.silent).toEqual([
      { batchId: 'b00000', hop: 1, sourceIds: ['b'], planned: true },
      { batchId: 'b00001', hop: 0, sourceIds: ['c'], planned: true },
    ]);
    expect([...walk.unaccounted].sort()).toEqual(['b', 'c']);
  });

  it('counts a silent hop as done where a redispatch record sent its tasks, once they report', async () => {
    const manifest = aRunManifest([['a', 'b']]);
    const walked = (results: BatchResult[]) =>
      walkRun(
        manifest,
        records(results, [redispatch('b00000', 0, 'b900000', ['a', 'b'])]),
        OPTIONS,
      );

    const pending = await walked([]);
    const done = await walked([
      aBatchResult([okOutcome('a'), okOutcome('b')], { batchId: 'b900000' }),
    ]);

    // While the new batch has not reported, its hop is the silent one (not a planned one).
    expect(pending.silent).toEqual([
      { batchId: 'b900000', hop: 0, sourceIds: ['a', 'b'], planned: false },
    ]);
    expect(done.silent).toEqual([]);
    expect(done.results.map((r) => r.batchId)).toEqual(['b900000']);
  });

  it('does not look redispatch records up unless asked', async () => {
    const manifest = aRunManifest([['a']]);
    const reader = records([], [redispatch('b00000', 0, 'b900000', ['a'])]);

    const walk = await walkRun(manifest, reader, { ...OPTIONS, followRedispatches: false });

    expect(walk.silent).toEqual([{ batchId: 'b00000', hop: 0, sourceIds: ['a'], planned: true }]);
  });

  it('takes outcomes from batches a replay added, so their sources are no longer silent', async () => {
    const manifest = aRunManifest([['a', 'b']]);
    const reader = records([
      aBatchResult([failedOutcome('a')], { continued: ['b'] }),
      aBatchResult([okOutcome('a', { finishedAt: '2026-11-25T14:00:00.000Z' })], {
        batchId: 'b900000',
        continued: ['b'],
      }),
      aBatchResult([okOutcome('b')], { batchId: 'b900000', hop: 1 }),
    ]);

    const walk = await walkRun(manifest, reader, {
      ...OPTIONS,
      followRedispatches: false,
      extraBatchIds: ['b900000', 'b900001'],
    });

    expect(walk.silent).toEqual([]);
    expect(walk.results).toHaveLength(3);
  });

  it('stops at a failure record: the hop could not run, its tasks are failed, not silent', async () => {
    const manifest = aRunManifest([['a']]);

    const walk = await walkRun(manifest, records([], [], ['b00000-h0']), OPTIONS);

    expect(walk.silent).toEqual([]);
    expect(walk.results).toEqual([]);
  });
});
