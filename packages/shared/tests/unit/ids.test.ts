import { describe, expect, it } from 'vitest';
import {
  BatchIdSchema,
  batchId,
  check,
  partitionDate,
  RunIdSchema,
  runIdFromTime,
  SourceIdSchema,
  timeOfRunId,
} from '../../src/index.js';

describe('runIdFromTime', () => {
  it('is the scheduled time in ISO basic form', () => {
    expect(runIdFromTime('2026-11-25T13:10:00Z')).toBe('20261125T131000Z');
  });

  it('is equal for the same instant however it is written', () => {
    // Act
    const ids = [
      runIdFromTime('2026-11-25T13:10:00Z'),
      runIdFromTime('2026-11-25T13:10:00.000Z'),
      runIdFromTime('2026-11-25T08:10:00-05:00'),
      runIdFromTime(new Date(Date.UTC(2026, 10, 25, 13, 10))),
    ];

    // Assess
    expect(new Set(ids)).toEqual(new Set(['20261125T131000Z']));
  });

  it('differs for different ticks', () => {
    // Act
    const ticks = ['2026-11-25T13:00:00Z', '2026-11-25T13:10:00Z', '2026-11-26T13:10:00Z'];

    // Assess
    expect(new Set(ticks.map((tick) => runIdFromTime(tick))).size).toBe(3);
  });

  it('is a valid run id', () => {
    expect(RunIdSchema.safeParse(runIdFromTime('2026-01-01T00:00:00Z')).success).toBe(true);
  });

  it.each(['', 'soon', '2026-13-45T00:00:00Z'])('throws RangeError for %j', (time) => {
    expect(() => runIdFromTime(time)).toThrow(RangeError);
  });

  it('throws RangeError for an invalid Date', () => {
    expect(() => runIdFromTime(new Date(Number.NaN))).toThrow(/not a time/);
  });
});

describe('partitionDate', () => {
  it('is the UTC date of the time', () => {
    expect(partitionDate('2026-11-25T13:10:00Z')).toBe('2026-11-25');
  });

  it('uses UTC, not the offset of the time', () => {
    expect(partitionDate('2026-11-25T23:30:00-05:00')).toBe('2026-11-26');
    expect(partitionDate('2026-11-26T00:30:00+02:00')).toBe('2026-11-25');
  });

  it('throws RangeError for a non-time', () => {
    expect(() => partitionDate('tomorrow')).toThrow(/^not a time: tomorrow$/);
  });
});

describe('batchId', () => {
  it.each([
    [0, 'b00000'],
    [42, 'b00042'],
    [123_456, 'b123456'],
  ])('formats %i as %s, which the schema accepts', (index, expected) => {
    // Act
    const id = batchId(index);

    // Assess
    expect(id).toBe(expected);
    expect(BatchIdSchema.safeParse(id).success).toBe(true);
  });

  it.each(['b1', 'B00001', 'b0000x', '00001'])('rejects %j', (id) => {
    expect(check(BatchIdSchema, id)).toEqual({
      ok: false,
      issues: [`(root): must look like b00042, got ${JSON.stringify(id)}`],
    });
  });
});

describe('id schemas', () => {
  it.each(['a', 'A1', 'weather-api', 'v1.2_beta', '0day'])('accept the source id %j', (id) => {
    expect(SourceIdSchema.safeParse(id).success).toBe(true);
  });

  it.each(['a/b', 'a b', 'a=b', '_x', 'a\n', 'ü', 'a+b', 'a%20b'])(
    'reject the source id %j',
    (id) => {
      expect(SourceIdSchema.safeParse(id).success).toBe(false);
    },
  );

  it.each(['20261125T131000Z', 'manual-1', 'r.2'])('accept the run id %j', (id) => {
    expect(RunIdSchema.safeParse(id).success).toBe(true);
  });

  it.each(['', 'a/b', 'a b', '.x', 'r'.repeat(65)])('reject the run id %j', (id) => {
    expect(RunIdSchema.safeParse(id).success).toBe(false);
  });
});

describe('timeOfRunId', () => {
  it('reads back the time of a runIdFromTime id', () => {
    expect(timeOfRunId(runIdFromTime('2026-11-25T13:10:00Z'))?.toISOString()).toBe(
      '2026-11-25T13:10:00.000Z',
    );
  });

  it.each(['manual-1', '20261125T131000', '20261399T000000Z'])('has no time for %j', (id) => {
    expect(timeOfRunId(id)).toBeUndefined();
  });
});
