import { describe, expect, it } from 'vitest';
import {
  parseScheduleExpression,
  previousFireTimes,
  ScheduleExpressionError,
} from '../../src/index.js';

function nextAfter(expression: string, after: string): string | undefined {
  return parseScheduleExpression(expression).next(new Date(after))?.toISOString();
}

describe('rate expressions', () => {
  it.each([
    ['rate(10 minutes)', '2026-11-25T13:10:00.000Z', '2026-11-25T13:20:00.000Z'],
    ['rate(10 minutes)', '2026-11-25T13:12:34.500Z', '2026-11-25T13:20:00.000Z'],
    ['rate(1 minute)', '2026-11-25T13:10:00.000Z', '2026-11-25T13:11:00.000Z'],
    ['rate(1 hour)', '2026-11-25T13:10:00.000Z', '2026-11-25T14:00:00.000Z'],
    // Multiples of 5 h since the epoch: 2026-11-25T17:00Z is 1795626000 s, a multiple of 18000.
    ['rate(5 hours)', '2026-11-25T13:10:00.000Z', '2026-11-25T17:00:00.000Z'],
    ['rate(1 day)', '2026-11-25T13:10:00.000Z', '2026-11-26T00:00:00.000Z'],
    // 1970-01-01 was a Thursday, so a seven-day rate falls on Thursdays.
    ['rate(7 days)', '2026-11-25T13:10:00.000Z', '2026-11-26T00:00:00.000Z'],
    ['rate(1 day)', '2026-12-31T23:59:59.999Z', '2027-01-01T00:00:00.000Z'],
  ])('%s after %s is %s', (expression, after, expected) => {
    expect(nextAfter(expression, after)).toBe(expected);
  });

  it('keeps a fixed period, aligned to the epoch, across successive times', () => {
    const schedule = parseScheduleExpression('rate(15 minutes)');
    const times: string[] = [];
    let at = new Date('2026-11-25T23:31:00Z');
    for (let i = 0; i < 3; i += 1) {
      at = schedule.next(at) ?? at;
      times.push(at.toISOString());
    }
    expect(times).toEqual([
      '2026-11-25T23:45:00.000Z',
      '2026-11-26T00:00:00.000Z',
      '2026-11-26T00:15:00.000Z',
    ]);
  });
});

describe('cron expressions', () => {
  it.each([
    ['cron(0/10 * * * ? *)', '2026-11-25T13:10:00.000Z', '2026-11-25T13:20:00.000Z'],
    ['cron(0/10 * * * ? *)', '2026-11-25T13:09:59.999Z', '2026-11-25T13:10:00.000Z'],
    ['cron(*/5 * * * ? *)', '2026-11-25T13:58:00.000Z', '2026-11-25T14:00:00.000Z'],
    ['cron(15 10 * * ? *)', '2026-11-25T13:10:00.000Z', '2026-11-26T10:15:00.000Z'],
    ['cron(0 18 ? * MON-FRI *)', '2026-11-25T13:10:00.000Z', '2026-11-25T18:00:00.000Z'],
    ['cron(0 18 ? * MON-FRI *)', '2026-11-27T19:00:00.000Z', '2026-11-30T18:00:00.000Z'],
    ['cron(0 18 ? * mon-fri *)', '2026-11-28T00:00:00.000Z', '2026-11-30T18:00:00.000Z'],
    ['cron(0 18 ? * 2-6 *)', '2026-11-28T00:00:00.000Z', '2026-11-30T18:00:00.000Z'],
    ['cron(0 8 1 * ? *)', '2026-12-15T00:00:00.000Z', '2027-01-01T08:00:00.000Z'],
    ['cron(30 23 31 DEC ? 2026)', '2026-11-25T13:10:00.000Z', '2026-12-31T23:30:00.000Z'],
    ['cron(5,35 */6 * JAN-MAR ? *)', '2026-11-25T13:10:00.000Z', '2027-01-01T00:05:00.000Z'],
    ['cron(5,35 */6 * JAN-MAR ? *)', '2027-01-01T00:05:00.000Z', '2027-01-01T00:35:00.000Z'],
    ['cron(5,35 */6 * JAN-MAR ? *)', '2027-01-01T00:35:00.000Z', '2027-01-01T06:05:00.000Z'],
    ['cron(0/15 8-9 ? * SUN,SAT 2027)', '2026-11-25T13:10:00.000Z', '2027-01-02T08:00:00.000Z'],
    ['cron(0 1-23/11 * * ? *)', '2026-11-25T13:10:00.000Z', '2026-11-25T23:00:00.000Z'],
    ['cron(0 0 29 2 ? *)', '2026-03-01T00:00:00.000Z', '2028-02-29T00:00:00.000Z'],
    ['cron(0 0 L * ? *)', '2026-11-25T13:10:00.000Z', '2026-11-30T00:00:00.000Z'],
    ['cron(0 0 L * ? *)', '2028-02-01T00:00:00.000Z', '2028-02-29T00:00:00.000Z'],
    // 31 January 2027 is a Sunday: the last weekday is Friday the 29th.
    ['cron(0 0 LW * ? *)', '2027-01-01T00:00:00.000Z', '2027-01-29T00:00:00.000Z'],
    // 1 August 2026 is a Saturday; the nearest weekday within the month is Monday the 3rd.
    ['cron(0 9 1W * ? *)', '2026-07-31T10:00:00.000Z', '2026-08-03T09:00:00.000Z'],
    // 15 November 2026 is a Sunday: Monday the 16th.
    ['cron(0 9 15W * ? *)', '2026-11-01T00:00:00.000Z', '2026-11-16T09:00:00.000Z'],
    ['cron(0 12 ? * 6L *)', '2026-11-01T00:00:00.000Z', '2026-11-27T12:00:00.000Z'],
    ['cron(0 12 ? * MON#1 *)', '2026-12-01T00:00:00.000Z', '2026-12-07T12:00:00.000Z'],
    ['cron(0 12 ? * 2#1 *)', '2026-12-01T00:00:00.000Z', '2026-12-07T12:00:00.000Z'],
    ['cron(0 12 ? * L *)', '2026-11-25T13:10:00.000Z', '2026-11-28T12:00:00.000Z'],
  ])('%s after %s is %s', (expression, after, expected) => {
    expect(nextAfter(expression, after)).toBe(expected);
  });

  it('has no next time once its years are past', () => {
    expect(nextAfter('cron(30 23 31 DEC ? 2026)', '2026-12-31T23:30:00Z')).toBeUndefined();
  });

  it.each([
    ['cron(0 0 30 2 ? *)', 'day-of-month 30, month 2'],
    ['cron(0 0 31 APR,JUN,SEP,NOV ? *)', 'day-of-month 31, month APR,JUN,SEP,NOV'],
    ['cron(0 0 29 2 ? 2100)', 'year 2100'],
    ['cron(0 0 ? 2 5#5 2026)', 'day-of-week 5#5'],
  ])(
    'refuses %s, which no date matches (EventBridge would accept it and never fire it)',
    (expression, fields) => {
      expect(() => parseScheduleExpression(expression)).toThrow(
        new RegExp(
          `never fires: no date from 1970 to 2199 matches all of its fields \\(.*${fields}`,
        ),
      );
    },
  );

  it('accepts a cron that fires once, and one whose only dates are leap days', () => {
    expect(nextAfter('cron(0 0 1 1 ? 2030)', '2026-01-01T00:00:00Z')).toBe(
      '2030-01-01T00:00:00.000Z',
    );
    expect(nextAfter('cron(0 0 29 2 ? *)', '2026-01-01T00:00:00Z')).toBe(
      '2028-02-29T00:00:00.000Z',
    );
  });
});

describe('invalid expressions', () => {
  it.each([
    [
      'cron(* * * * * *)',
      'day-of-month (*) and day-of-week (*) cannot both be set: use ? in one of them',
    ],
    ['cron(0 12 ? * ? *)', 'day-of-month and day-of-week cannot both be ?'],
    [
      'cron(0 12 * * ?)',
      'cron needs 6 fields (minutes hours day-of-month month day-of-week year), got 5',
    ],
    ['cron(60 * * * ? *)', 'minutes: 60 is outside 0-59'],
    ['cron(0 24 * * ? *)', 'hours: 24 is outside 0-23'],
    ['cron(0 0 32 * ? *)', 'day-of-month: 32 is outside 1-31'],
    ['cron(0 0 ? * 8 *)', 'day-of-week: 8 is outside 1-7'],
    ['cron(0 0 * FOO ? *)', 'month: expected a number 1-12 or a name JAN-DEC, got FOO'],
    ['cron(0 0 * * ? 1969)', 'year: 1969 is outside 1970-2199'],
    ['cron(0/0 * * * ? *)', 'minutes: step must be a whole number of at least 1, got 0'],
    ['cron(50-10 * * * ? *)', 'minutes: range 50-10 runs backwards'],
    ['cron(0 ? * * ? *)', 'hours: ? is only allowed in day-of-month or day-of-week'],
    ['cron(0 0 ? * 2#6 *)', 'day-of-week: 2#6: the occurrence after # must be 1-5'],
    ['cron(1,,2 * * * ? *)', 'minutes: empty item in list 1,,2'],
    ['rate(0 minutes)', 'value must be at least 1'],
    ['rate(1 minutes)', 'use the singular unit for 1: rate(1 minute)'],
    ['rate(5 minute)', 'use the plural unit: rate(5 minutes)'],
    ['rate(30 seconds)', 'EventBridge runs a schedule at most once a minute'],
    ['rate(1.5 hours)', 'value must be a positive whole number, got 1.5'],
    ['rate(2 weeks)', 'unit must be minute(s), hour(s) or day(s), got weeks'],
    ['rate(5)', 'expected rate(<value> <unit>)'],
    ['every 10 minutes', 'expected rate(<value> <unit>) or cron('],
  ])('%s: %s', (expression, message) => {
    expect(() => parseScheduleExpression(expression)).toThrow(ScheduleExpressionError);
    expect(() => parseScheduleExpression(expression)).toThrow(message);
  });

  it('names the expression in the message', () => {
    expect(() => parseScheduleExpression('rate(30 seconds)')).toThrow(
      'invalid schedule expression "rate(30 seconds)": unit must be minute(s), hour(s) or day(s), got seconds: EventBridge runs a schedule at most once a minute',
    );
  });
});

function previousBefore(expression: string, before: string): string | undefined {
  return parseScheduleExpression(expression).previous(new Date(before))?.toISOString();
}

describe('previous fire times', () => {
  it.each([
    ['rate(10 minutes)', '2026-11-25T13:10:00.000Z', '2026-11-25T13:00:00.000Z'],
    ['rate(10 minutes)', '2026-11-25T13:12:34.500Z', '2026-11-25T13:10:00.000Z'],
    ['rate(1 day)', '2027-01-01T00:00:00.000Z', '2026-12-31T00:00:00.000Z'],
    ['cron(0/10 * * * ? *)', '2026-11-25T13:10:00.000Z', '2026-11-25T13:00:00.000Z'],
    ['cron(0/10 * * * ? *)', '2026-11-25T13:10:00.001Z', '2026-11-25T13:10:00.000Z'],
    ['cron(*/5 * * * ? *)', '2026-11-25T14:00:00.000Z', '2026-11-25T13:55:00.000Z'],
    ['cron(15 10 * * ? *)', '2026-11-25T10:15:00.000Z', '2026-11-24T10:15:00.000Z'],
    ['cron(0 18 ? * MON-FRI *)', '2026-11-30T18:00:00.000Z', '2026-11-27T18:00:00.000Z'],
    ['cron(0 8 1 * ? *)', '2027-01-01T08:00:00.000Z', '2026-12-01T08:00:00.000Z'],
    ['cron(5,35 */6 * JAN-MAR ? *)', '2027-01-01T00:05:00.000Z', '2026-03-31T18:35:00.000Z'],
    ['cron(0 0 29 2 ? *)', '2028-02-29T00:00:00.000Z', '2024-02-29T00:00:00.000Z'],
    ['cron(0 0 L * ? *)', '2028-03-31T00:00:00.000Z', '2028-02-29T00:00:00.000Z'],
    ['cron(0 12 ? * MON#1 *)', '2026-12-07T12:00:00.000Z', '2026-11-02T12:00:00.000Z'],
    ['cron(30 23 31 DEC ? 2026)', '2027-06-01T00:00:00.000Z', '2026-12-31T23:30:00.000Z'],
  ])('%s before %s is %s', (expression, before, expected) => {
    expect(previousBefore(expression, before)).toBe(expected);
  });

  it('has no previous time before its first year', () => {
    expect(previousBefore('cron(30 23 31 DEC ? 2026)', '2026-12-31T23:30:00Z')).toBeUndefined();
  });

  it('walks back from a time next() produced to the time before it, for every expression above', () => {
    for (const expression of [
      'cron(0 18 ? * MON-FRI *)',
      'cron(5,35 */6 * JAN-MAR ? *)',
      'cron(0 9 15W * ? *)',
      'cron(0 12 ? * 6L *)',
    ]) {
      const schedule = parseScheduleExpression(expression);
      let at = new Date('2026-11-25T13:10:00Z');
      const forward: string[] = [];
      for (let i = 0; i < 5; i += 1) {
        at = schedule.next(at) ?? at;
        forward.push(at.toISOString());
      }
      const backward = previousFireTimes(schedule, at, 4, { fromIsFireTime: true }).map((d) =>
        d.toISOString(),
      );
      expect(backward).toEqual(forward.slice(0, 4).reverse());
    }
  });

  it('steps a rate back from a real fire time by whole periods, whatever its phase', () => {
    const schedule = parseScheduleExpression('rate(10 minutes)');
    // AWS counts a rate from the rule's creation, so a fire time need not be on the epoch grid.
    const times = previousFireTimes(schedule, new Date('2026-11-25T13:13:27Z'), 2, {
      fromIsFireTime: true,
    });
    expect(times.map((d) => d.toISOString())).toEqual([
      '2026-11-25T13:03:27.000Z',
      '2026-11-25T12:53:27.000Z',
    ]);
  });

  it('finds the latest fire time at or before a time that is not a fire time', () => {
    const schedule = parseScheduleExpression('cron(0/10 * * * ? *)');
    const times = previousFireTimes(schedule, new Date('2026-11-25T13:14:59Z'), 2, {
      fromIsFireTime: false,
    });
    expect(times.map((d) => d.toISOString())).toEqual([
      '2026-11-25T13:10:00.000Z',
      '2026-11-25T13:00:00.000Z',
    ]);
  });
});
