import type { BatchResult, RunManifest, TaskOutcome } from '@fanout/shared';
import { describe, expect, it } from 'vitest';
import {
  batchIdOfRecordKey,
  emptySnapshot,
  mergeRunRecords,
  snapshotAfterPlanning,
} from '../../src/index.js';

function ok(sourceId: string, durationMs: number, finishedAt: string, etag = '"e"'): TaskOutcome {
  return {
    status: 'ok',
    sourceId,
    attempts: 1,
    durationMs,
    httpStatus: 200,
    bytes: 1,
    rawKeys: [`raw/source=${sourceId}/dt=2026-11-25/r-p0000.json`],
    validators: { etag },
    finishedAt,
  };
}

function result(runId: string, batchId: string, outcomes: TaskOutcome[]): BatchResult {
  return { runId, batchId, hop: 0, outcomes, continued: [], writtenAt: '2026-11-25T13:00:00Z' };
}

function manifest(runId: string, batches: Record<string, string[]>): RunManifest {
  return {
    runId,
    scheduledAt: '2026-11-25T13:00:00.000Z',
    trigger: 'schedule',
    status: 'dispatched',
    sourceCount: Object.values(batches).flat().length,
    batches: Object.entries(batches).map(([batchId, sourceIds]) => ({
      batchId,
      sourceIds,
      estimateMs: 1,
      payloadBytes: 1,
    })),
    invalidSources: [],
    createdAt: '2026-11-25T13:00:00.000Z',
    updatedAt: '2026-11-25T13:00:00.000Z',
  };
}

const OPTIONS = { durationsKept: 3 };

describe('mergeRunRecords', () => {
  it('keeps validators and the last N durations, and is idempotent', () => {
    const records = {
      runId: 'r1',
      manifest: manifest('r1', { b00000: ['a'] }),
      results: [result('r1', 'b00000', [ok('a', 400, '2026-11-25T13:00:05Z', '"v2"')])],
      failedBatchIds: new Set<string>(),
    };
    const start = {
      ...emptySnapshot(),
      sources: { a: { validators: { etag: '"v1"' }, durationsMs: [100, 200, 300] } },
    };

    const once = mergeRunRecords(start, records, OPTIONS);
    const twice = mergeRunRecords(once.snapshot, records, OPTIONS);

    expect(once.complete).toBe(true);
    expect(once.snapshot.sources.a).toEqual({
      validators: { etag: '"v2"' },
      durationsMs: [200, 300, 400],
      lastRunId: 'r1',
      lastStatus: 'ok',
      lastFinishedAt: '2026-11-25T13:00:05Z',
    });
    expect(twice.snapshot).toEqual(once.snapshot);
  });

  it('does not let an older run override a newer outcome that arrived first', () => {
    const newer = mergeRunRecords(
      emptySnapshot(),
      {
        runId: 'r2',
        manifest: manifest('r2', { b00000: ['a'] }),
        results: [result('r2', 'b00000', [ok('a', 50, '2026-11-25T13:10:05Z', '"new"')])],
        failedBatchIds: new Set(),
      },
      OPTIONS,
    );
    const late = mergeRunRecords(
      newer.snapshot,
      {
        runId: 'r1',
        manifest: manifest('r1', { b00000: ['a'] }),
        results: [result('r1', 'b00000', [ok('a', 999, '2026-11-25T13:00:05Z', '"old"')])],
        failedBatchIds: new Set(),
      },
      OPTIONS,
    );
    expect(late.snapshot.sources.a?.validators).toEqual({ etag: '"new"' });
    expect(late.snapshot.sources.a?.durationsMs).toEqual([50]);
  });

  it('keeps the validators of a source whose fetch failed', () => {
    const start = {
      ...emptySnapshot(),
      sources: { a: { validators: { etag: '"v1"' }, durationsMs: [] } },
    };
    const failed: TaskOutcome = {
      status: 'failed',
      sourceId: 'a',
      attempts: 3,
      durationMs: 10_000,
      reason: 'timeout',
      finishedAt: '2026-11-25T13:00:05Z',
    };
    const merged = mergeRunRecords(
      start,
      {
        runId: 'r1',
        manifest: manifest('r1', { b00000: ['a'] }),
        results: [result('r1', 'b00000', [failed])],
        failedBatchIds: new Set(),
      },
      OPTIONS,
    );
    expect(merged.snapshot.sources.a).toMatchObject({
      validators: { etag: '"v1"' },
      durationsMs: [10_000],
      lastStatus: 'failed',
    });
  });

  it('calls a run complete only when every batch has outcomes or a failure record', () => {
    const plan = manifest('r1', { b00000: ['a', 'b'], b00001: ['c'] });
    const partial = {
      runId: 'r1',
      manifest: plan,
      results: [result('r1', 'b00000', [ok('a', 1, '2026-11-25T13:00:01Z')])],
      failedBatchIds: new Set<string>(),
    };
    expect(mergeRunRecords(emptySnapshot(), partial, OPTIONS).complete).toBe(false);
    const settled = {
      ...partial,
      results: [
        result('r1', 'b00000', [
          ok('a', 1, '2026-11-25T13:00:01Z'),
          ok('b', 1, '2026-11-25T13:00:01Z'),
        ]),
      ],
      failedBatchIds: new Set(['b00001']),
    };
    expect(mergeRunRecords(emptySnapshot(), settled, OPTIONS).complete).toBe(true);
  });
});

describe('snapshotAfterPlanning', () => {
  it('drops sources no longer in the manifest and queues the run for merging', () => {
    const snapshot = {
      ...emptySnapshot(),
      pendingRuns: ['r0'],
      sources: {
        a: { validators: {}, durationsMs: [1] },
        gone: { validators: {}, durationsMs: [2] },
      },
    };
    const next = snapshotAfterPlanning(
      snapshot,
      'r1',
      new Set(['a', 'new']),
      '2026-11-25T13:10:00.000Z',
    );
    expect(Object.keys(next.sources)).toEqual(['a']);
    expect(next.pendingRuns).toEqual(['r0', 'r1']);
  });
});

describe('batchIdOfRecordKey', () => {
  it('reads the batch id from result and failure keys', () => {
    expect(batchIdOfRecordKey('runs/r1/results/b00003-h1.json')).toBe('b00003');
    expect(batchIdOfRecordKey('runs/r1/failures/b00012-h0.json')).toBe('b00012');
    expect(batchIdOfRecordKey('runs/r1/results/notes.txt')).toBeUndefined();
  });
});
