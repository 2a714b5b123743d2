import { describe, expect, it } from 'vitest';
import {
  describeInterval,
  parseScheduleExpression,
  readCadence,
  shortestIntervalMs,
} from '../../src/index.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

function cadenceOf(text: string) {
  const read = readCadence(text);
  if (!read.ok) throw new Error(read.problem);
  return read.cadence;
}

describe('readCadence', () => {
  it.each([
    ['1m', MINUTE],
    ['30m', 30 * MINUTE],
    ['90m', 90 * MINUTE],
    ['6h', 6 * HOUR],
    ['1d', DAY],
    ['366d', 366 * DAY],
  ])('reads %s as an interval of %d ms', (text, periodMs) => {
    expect(cadenceOf(text)).toEqual({ text, kind: 'interval', periodMs });
  });

  it('reads a cron expression with the stack schedule syntax', () => {
    // Act
    const cadence = cadenceOf('cron(0 6 * * ? *)');

    // Assess
    expect(cadence.kind).toBe('cron');
    if (cadence.kind !== 'cron') return;
    expect(cadence.schedule.next(new Date('2026-11-25T06:00:00Z'))?.toISOString()).toBe(
      '2026-11-26T06:00:00.000Z',
    );
  });

  it('says what is wrong with a cron expression', () => {
    expect(readCadence('cron(61 * * * ? *)')).toEqual({
      ok: false,
      problem: 'minutes: 61 is outside 0-59',
    });
  });
});

describe('shortestIntervalMs', () => {
  it('is the period of a rate schedule and of an interval cadence', () => {
    expect(shortestIntervalMs(parseScheduleExpression('rate(10 minutes)'))).toBe(10 * MINUTE);
    expect(shortestIntervalMs(cadenceOf('6h'))).toBe(6 * HOUR);
  });

  it.each([
    ['cron(0 6 * * ? *)', DAY],
    ['cron(0/15 * * * ? *)', 15 * MINUTE],
    ['cron(0 9,17 ? * MON-FRI *)', 8 * HOUR],
    ['cron(5,55 0,23 * * ? *)', 10 * MINUTE], // 23:55 to 00:05, across midnight
  ])('is the closest two fire times of %s', (expression, expected) => {
    expect(shortestIntervalMs(cadenceOf(expression))).toBe(expected);
    expect(shortestIntervalMs(parseScheduleExpression(expression))).toBe(expected);
  });

  it('is undefined for a cron that fires once', () => {
    expect(shortestIntervalMs(cadenceOf('cron(0 6 1 JAN ? 2030)'))).toBeUndefined();
  });
});

describe('describeInterval', () => {
  it.each([
    [MINUTE, '1 minute'],
    [5 * MINUTE, '5 minutes'],
    [90 * MINUTE, '90 minutes'],
    [HOUR, '1 hour'],
    [2 * DAY, '2 days'],
  ])('describes %d ms as %s', (ms, text) => {
    expect(describeInterval(ms)).toBe(text);
  });
});
