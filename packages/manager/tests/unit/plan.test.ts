import { type CollectorPayload, parseCollectorPayload, payloadSize } from '@fanout/shared';
import { describe, expect, it } from 'vitest';
import { batchEstimateMs, buildPayload, type Plan, planBatches } from '../../src/index.js';
import { RUN, SETTINGS, source, sources } from '../helpers/sources.js';

function payloadsOf(plan: Plan): CollectorPayload[] {
  return plan.batches.map((batch) =>
    buildPayload(RUN.runId, RUN.scheduledAt, batch.batchId, batch.tasks),
  );
}

function idsOf(plan: Plan): string[] {
  return plan.batches.flatMap((batch) => batch.tasks.map((task) => task.source.id));
}

describe('planBatches', () => {
  it('keeps every batch within the time budget at the collector concurrency', () => {
    // Prepare: 400 sources of 10 s each; 16 slots x 60 s hold 96 of them.
    const input = {
      ...RUN,
      sources: sources(400, { expectedDurationMs: 10_000 }),
      state: {},
      settings: { ...SETTINGS, batchBudgetMs: 60_000, collectorMaxParallel: 1 },
    };
    // Act
    const plan = planBatches(input);
    // Assess
    expect(plan.batches).toHaveLength(Math.ceil(400 / 96));
    for (const batch of plan.batches) {
      expect(batch.estimateMs).toBeLessThanOrEqual(60_000);
      expect(batch.estimateMs).toBe(
        batchEstimateMs(
          batch.tasks.map((t) => t.estimateMs),
          16,
        ),
      );
    }
    expect(idsOf(plan).sort()).toEqual(input.sources.map((s) => s.id).sort());
  });

  it('never rates a batch below its longest task', () => {
    expect(batchEstimateMs([9_000, 10, 10], 16)).toBe(9_000);
    expect(batchEstimateMs([1_000, 1_000, 1_000, 1_000], 2)).toBe(2_000);
  });

  it('keeps each serialized payload under the byte limit minus the margin', () => {
    // Prepare: fat headers make tasks ~2 KB each; a 64 KB limit holds ~27 of them.
    const fat = { headers: { 'x-padding': 'p'.repeat(2_000) }, expectedDurationMs: 10 };
    const settings = { ...SETTINGS, payloadLimitBytes: 65_536, payloadMarginBytes: 4_096 };
    // Act
    const plan = planBatches({ ...RUN, sources: sources(300, fat), state: {}, settings });
    // Assess
    expect(plan.batches.length).toBeGreaterThan(10);
    for (const payload of payloadsOf(plan)) {
      expect(payloadSize(payload)).toBeLessThanOrEqual(65_536 - 4_096);
      expect(() => parseCollectorPayload(payload)).not.toThrow();
    }
    for (const batch of plan.batches) {
      const payload = buildPayload(RUN.runId, RUN.scheduledAt, batch.batchId, batch.tasks);
      expect(batch.payloadBytes).toBe(payloadSize(payload));
    }
    expect(new Set(idsOf(plan)).size).toBe(300);
  });

  it('rejects a source whose task alone is over the byte limit, naming its size', () => {
    const settings = { ...SETTINGS, payloadLimitBytes: 8_192, payloadMarginBytes: 1_024 };
    const huge = source('huge', { headers: { 'x-big': 'b'.repeat(10_000) } });
    const plan = planBatches({ ...RUN, sources: [huge, source('ok')], state: {}, settings });
    expect(plan.rejected).toEqual([
      {
        sourceId: 'huge',
        reason: expect.stringMatching(
          /serializes to \d+ bytes, over the payload limit of 7168 bytes/,
        ),
      },
    ]);
    expect(idsOf(plan)).toEqual(['ok']);
  });

  it('spreads work over min(maxParallel, n / minTasksPerBatch) batches even when one would fit', () => {
    const quick = sources(100, { expectedDurationMs: 100 });
    const wide = planBatches({ ...RUN, sources: quick, state: {}, settings: SETTINGS });
    expect(wide.batches).toHaveLength(10);
    expect(wide.batches.map((b) => b.tasks.length)).toEqual(Array(10).fill(10));

    const capped = planBatches({
      ...RUN,
      sources: quick,
      state: {},
      settings: { ...SETTINGS, collectorMaxParallel: 4 },
    });
    expect(capped.batches).toHaveLength(4);

    const few = planBatches({ ...RUN, sources: quick.slice(0, 3), state: {}, settings: SETTINGS });
    expect(few.batches).toHaveLength(1);
  });

  it('balances estimated durations across batches (longest first into the least loaded)', () => {
    const mixed = [
      ...sources(5, { expectedDurationMs: 40_000 }),
      ...Array.from({ length: 45 }, (_, i) => source(`q${i}`, { expectedDurationMs: 1_000 })),
    ];
    const plan = planBatches({
      ...RUN,
      sources: mixed,
      state: {},
      settings: { ...SETTINGS, collectorMaxParallel: 5 },
    });
    expect(plan.batches).toHaveLength(5);
    for (const batch of plan.batches) {
      expect(batch.tasks[0]?.estimateMs).toBe(40_000);
      expect(batch.tasks).toHaveLength(10);
    }
  });

  it('gives a source estimated over the budget a batch of its own', () => {
    const slow = source('slow', { expectedDurationMs: 500_000 });
    const plan = planBatches({
      ...RUN,
      sources: [source('a'), slow, source('b')],
      state: {},
      settings: SETTINGS,
    });
    const own = plan.batches.find((b) => b.tasks.some((t) => t.source.id === 'slow'));
    expect(own?.tasks).toHaveLength(1);
    expect(own?.estimateMs).toBe(500_000);
    expect(idsOf(plan).sort()).toEqual(['a', 'b', 'slow']);
  });

  it('adapts estimates to measured durations: the median beats the manifest hint', () => {
    const hinted = sources(200, { expectedDurationMs: 1_000 });
    const settings = { ...SETTINGS, batchBudgetMs: 60_000, collectorMaxParallel: 1 };
    const before = planBatches({ ...RUN, sources: hinted, state: {}, settings });
    // Measured: every source actually takes ~12 s (one 90 s outlier does not move the median).
    const state = Object.fromEntries(
      hinted.map((s) => [
        s.id,
        { validators: {}, durationsMs: [12_000, 90_000, 11_000, 12_500, 12_000] },
      ]),
    );
    const after = planBatches({ ...RUN, sources: hinted, state, settings });
    expect(before.batches).toHaveLength(1);
    expect(after.batches[0]?.tasks[0]?.estimateMs).toBe(12_000);
    // 16 slots x 60 s / 12 s = 80 tasks per batch.
    expect(after.batches).toHaveLength(Math.ceil(200 / 80));
  });

  it('falls back from measurements to the hint to the default', () => {
    const plan = planBatches({
      ...RUN,
      sources: [
        source('measured', { expectedDurationMs: 5 }),
        source('hinted', { expectedDurationMs: 7 }),
        source('plain'),
      ],
      state: { measured: { validators: {}, durationsMs: [3, 4] } },
      settings: { ...SETTINGS, minTasksPerBatch: 100 },
    });
    const estimates = Object.fromEntries(
      plan.batches.flatMap((b) => b.tasks).map((t) => [t.source.id, t.estimateMs]),
    );
    expect(estimates).toEqual({ measured: 4, hinted: 7, plain: 2_000 });
  });

  it('passes stored validators along so collectors read no state', () => {
    const sha256 = 'a'.repeat(64);
    const plan = planBatches({
      ...RUN,
      sources: [source('a'), source('b')],
      state: { a: { validators: { etag: '"v1"', sha256 }, durationsMs: [] } },
      settings: SETTINGS,
    });
    const tasks = plan.batches.flatMap((b) => b.tasks);
    expect(tasks.find((t) => t.source.id === 'a')?.previous).toEqual({ etag: '"v1"', sha256 });
    expect(tasks.find((t) => t.source.id === 'b')).not.toHaveProperty('previous');
  });

  it('is deterministic: same inputs (in any manifest order) give the same batches', () => {
    const mixed = Array.from({ length: 500 }, (_, i) =>
      source(`m${i}`, { expectedDurationMs: 500 + ((i * 7919) % 5000) }),
    );
    const first = planBatches({ ...RUN, sources: mixed, state: {}, settings: SETTINGS });
    const again = planBatches({ ...RUN, sources: mixed, state: {}, settings: SETTINGS });
    const shuffled = planBatches({
      ...RUN,
      sources: [...mixed].reverse(),
      state: {},
      settings: SETTINGS,
    });
    expect(again).toEqual(first);
    expect(shuffled).toEqual(first);
    expect(first.batches.map((b) => b.batchId)).toEqual(
      first.batches.map((_, i) => `b${String(i).padStart(5, '0')}`),
    );
  });

  it('plans nothing for no sources', () => {
    expect(planBatches({ ...RUN, sources: [], state: {}, settings: SETTINGS })).toEqual({
      batches: [],
      rejected: [],
    });
  });
});
