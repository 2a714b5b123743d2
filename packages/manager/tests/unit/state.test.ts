import type { BatchResult, RunManifest, TaskOutcome } from '@fanout/shared';
import { describe, expect, it } from 'vitest';
import { emptySnapshot, mergeRunRecords, snapshotAfterPlanning } from '../../src/index.js';

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
      unaccounted: [],
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
      bytes: 1,
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
        unaccounted: [],
      },
      OPTIONS,
    );
    const late = mergeRunRecords(
      newer.snapshot,
      {
        runId: 'r1',
        manifest: manifest('r1', { b00000: ['a'] }),
        results: [result('r1', 'b00000', [ok('a', 999, '2026-11-25T13:00:05Z', '"old"')])],
        unaccounted: [],
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
        unaccounted: [],
      },
      OPTIONS,
    );
    expect(merged.snapshot.sources.a).toMatchObject({
      validators: { etag: '"v1"' },
      durationsMs: [10_000],
      lastStatus: 'failed',
    });
  });

  it('calls a run complete only when no planned source is unaccounted for', () => {
    const plan = manifest('r1', { b00000: ['a', 'b'], b00001: ['c'] });
    const partial = {
      runId: 'r1',
      manifest: plan,
      results: [result('r1', 'b00000', [ok('a', 1, '2026-11-25T13:00:01Z')])],
      unaccounted: ['c'],
    };
    const pending = mergeRunRecords(emptySnapshot(), partial, OPTIONS);
    expect(pending.complete).toBe(false);
    // The outcomes that did arrive are merged all the same.
    expect(pending.snapshot.sources.a?.lastRunId).toBe('r1');
    expect(
      mergeRunRecords(emptySnapshot(), { ...partial, unaccounted: [] }, OPTIONS).complete,
    ).toBe(true);
    expect(
      mergeRunRecords(
        emptySnapshot(),
        { ...partial, manifest: undefined, unaccounted: [] },
        OPTIONS,
      ).complete,
    ).toBe(false);
  });
});

describe('snapshotAfterPlanning', () => {
  it('keeps the sources of the manifest, each with its definition, and queues the run', () => {
    const snapshot = {
      ...emptySnapshot(),
      pendingRuns: ['r0'],
      sources: {
        a: { validators: { etag: '"1"' }, durationsMs: [1] },
        gone: { validators: {}, durationsMs: [2] },
      },
    };
    const next = snapshotAfterPlanning(
      snapshot,
      new Map([
        ['a', 'def-a'],
        ['new', 'def-new'],
      ]),
      '2026-11-25T13:10:00.000Z',
      'r1',
    );
    expect(Object.keys(next.sources).sort()).toEqual(['a', 'new']);
    // A state recorded before definitions were adopts the current one and keeps its validators.
    expect(next.sources.a).toEqual({
      validators: { etag: '"1"' },
      durationsMs: [1],
      definition: 'def-a',
    });
    expect(next.sources.new).toEqual({ validators: {}, durationsMs: [], definition: 'def-new' });
    expect(next.pendingRuns).toEqual(['r0', 'r1']);
    expect(next.updatedAt).toBe('2026-11-25T13:10:00.000Z');
  });

  it('drops the validators and body size of an edited source, keeping its durations', () => {
    const snapshot = {
      ...emptySnapshot(),
      sources: {
        a: { validators: { etag: '"1"' }, durationsMs: [5], bytes: 10, definition: 'old' },
      },
    };
    const next = snapshotAfterPlanning(
      snapshot,
      new Map([['a', 'new']]),
      '2026-11-25T13:10:00.000Z',
      'r1',
    );
    expect(next.sources.a).toEqual({ validators: {}, durationsMs: [5], definition: 'new' });
  });

  it('queues a manual run like a scheduled one: the next run finds it in the off-schedule log', () => {
    const snapshot = { ...emptySnapshot(), pendingRuns: ['r0'] };
    const next = snapshotAfterPlanning(snapshot, new Map(), '2026-11-25T13:10:00.000Z', 'manual-1');
    expect(next.pendingRuns).toEqual(['r0', 'manual-1']);
  });
});
