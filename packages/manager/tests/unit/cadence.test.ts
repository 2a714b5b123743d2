import { type Cadence, parseScheduleExpression, readCadence } from '@fanout/shared';
import { describe, expect, it } from 'vitest';
import { isDue, previousStackFire, splitByCadence } from '../../src/index.js';
import { source } from '../helpers/sources.js';

const TEN_MINUTES = parseScheduleExpression('rate(10 minutes)');

function cadenceOf(text: string): Cadence {
  const read = readCadence(text);
  if (!read.ok) throw new Error(read.problem);
  return read.cadence;
}

/** Whether `every` is due at `time` on a stack running `schedule`. */
function dueAt(every: string, time: string, schedule = TEN_MINUTES): boolean {
  const at = new Date(time);
  return isDue(cadenceOf(every), at, previousStackFire(schedule, at));
}

/** The scheduled times of a day (UTC) at which `every` is due on a rate(10 minutes) stack. */
function dueTimesOfDay(every: string, day: string): string[] {
  const start = Date.parse(`${day}T00:00:00Z`);
  const times: string[] = [];
  for (let at = start; at < start + 86_400_000; at += 600_000) {
    const time = new Date(at).toISOString();
    if (dueAt(every, time)) times.push(time.slice(11, 16));
  }
  return times;
}

describe('previousStackFire', () => {
  it('is one period earlier for a rate and the cron evaluated backwards for a cron', () => {
    expect(previousStackFire(TEN_MINUTES, new Date('2026-11-25T13:10:00Z'))?.toISOString()).toBe(
      '2026-11-25T13:00:00.000Z',
    );
    const weekdays = parseScheduleExpression('cron(0 9 ? * MON-FRI *)');
    // Monday 09:00: the previous fire is Friday 09:00.
    expect(previousStackFire(weekdays, new Date('2026-11-30T09:00:00Z'))?.toISOString()).toBe(
      '2026-11-27T09:00:00.000Z',
    );
  });
});

describe('isDue: interval cadences', () => {
  it('is due at the first fire at or after each whole hour since the epoch', () => {
    expect(dueAt('1h', '2026-11-25T13:00:00Z')).toBe(true);
    expect(dueAt('1h', '2026-11-25T13:10:00Z')).toBe(false);
    expect(dueAt('1h', '2026-11-25T13:50:00Z')).toBe(false);
    expect(dueAt('1h', '2026-11-25T14:00:00Z')).toBe(true);
  });

  it('is due once an hour over a day, on the hour', () => {
    const times = dueTimesOfDay('1h', '2026-11-25');
    expect(times).toHaveLength(24);
    expect(times.every((time) => time.endsWith(':00'))).toBe(true);
  });

  it('is due every run when the cadence equals the schedule', () => {
    expect(dueTimesOfDay('10m', '2026-11-25')).toHaveLength(144);
  });

  it('is due once a day, at the first fire of the UTC day, whatever the season', () => {
    // No daylight saving time: UTC days in winter and summer are alike.
    expect(dueTimesOfDay('1d', '2026-01-15')).toEqual(['00:00']);
    expect(dueTimesOfDay('1d', '2026-07-15')).toEqual(['00:00']);
    expect(dueTimesOfDay('1d', '2026-03-29')).toEqual(['00:00']);
  });

  it('is due at the first fire at or after a boundary that falls between fires', () => {
    // A UTC day is a whole number of 45 minutes since the epoch, so the boundaries are at
    // 00:00, 00:45, 01:30, 02:15, 03:00: due at those fires or at the next one.
    expect(dueTimesOfDay('45m', '2026-11-25').slice(0, 5)).toEqual([
      '00:00',
      '00:50',
      '01:30',
      '02:20',
      '03:00',
    ]);
    expect(dueTimesOfDay('45m', '2026-11-25')).toHaveLength(32);
  });

  it('decides from fire times that are not on the minute, as a rate counted from a rule creation', () => {
    // Fires at :03:27, :13:27, ...: the hour boundary falls in (13:53:27, 14:03:27].
    expect(dueAt('1h', '2026-11-25T13:53:27Z')).toBe(false);
    expect(dueAt('1h', '2026-11-25T14:03:27Z')).toBe(true);
    expect(dueAt('1h', '2026-11-25T14:13:27Z')).toBe(false);
  });
});

describe('isDue: cron cadences', () => {
  it('is due when a cadence fire time falls in (previous fire, this fire]', () => {
    // 06:00 daily: due at the 06:00 run, which includes its own time.
    expect(dueAt('cron(0 6 * * ? *)', '2026-11-25T06:00:00Z')).toBe(true);
    expect(dueAt('cron(0 6 * * ? *)', '2026-11-25T05:50:00Z')).toBe(false);
    expect(dueAt('cron(0 6 * * ? *)', '2026-11-25T06:10:00Z')).toBe(false);
    expect(dueTimesOfDay('cron(0 6 * * ? *)', '2026-11-25')).toEqual(['06:00']);
  });

  it('is due at the run after a cadence time that falls between two fires', () => {
    // :05 past each hour lies in (:00, :10]: the :10 run collects it.
    expect(dueAt('cron(5 * * * ? *)', '2026-11-25T13:00:00Z')).toBe(false);
    expect(dueAt('cron(5 * * * ? *)', '2026-11-25T13:10:00Z')).toBe(true);
    expect(dueTimesOfDay('cron(5 * * * ? *)', '2026-11-25')).toHaveLength(24);
  });

  it('follows the cron day fields (weekdays only)', () => {
    // 2026-11-28 is a Saturday.
    expect(dueTimesOfDay('cron(0 6 ? * MON-FRI *)', '2026-11-27')).toEqual(['06:00']);
    expect(dueTimesOfDay('cron(0 6 ? * MON-FRI *)', '2026-11-28')).toEqual([]);
  });

  it('is due when the stack schedule is a cron and the cadence time fell since its last fire', () => {
    const weekdays = parseScheduleExpression('cron(0 9 ? * MON-FRI *)');
    // Daily at 06:00: Monday's 09:00 run covers Saturday to Monday.
    expect(dueAt('cron(0 6 * * ? *)', '2026-11-30T09:00:00Z', weekdays)).toBe(true);
    // Weekly on Sunday noon: covered by Monday's run, not by Tuesday's.
    expect(dueAt('cron(0 12 ? * SUN *)', '2026-11-30T09:00:00Z', weekdays)).toBe(true);
    expect(dueAt('cron(0 12 ? * SUN *)', '2026-12-01T09:00:00Z', weekdays)).toBe(false);
  });

  it('is due when the stack schedule has no earlier fire', () => {
    const once = parseScheduleExpression('cron(0 9 1 JAN ? 2027)');
    expect(dueAt('cron(0 6 1 JUL ? *)', '2027-01-01T09:00:00Z', once)).toBe(true);
  });
});

describe('splitByCadence', () => {
  it('keeps sources without a cadence due and splits the others, in manifest order', () => {
    // Prepare
    const sources = [
      source('always'),
      source('hourly', { every: '1h' }),
      source('daily', { every: 'cron(0 6 * * ? *)' }),
      source('half-hourly', { every: '30m' }),
    ];

    // Act
    const at1300 = splitByCadence(sources, new Date('2026-11-25T13:00:00Z'), TEN_MINUTES);
    const at1330 = splitByCadence(sources, new Date('2026-11-25T13:30:00Z'), TEN_MINUTES);

    // Assess
    expect(at1300.due.map((s) => s.id)).toEqual(['always', 'hourly', 'half-hourly']);
    expect(at1300.notDue.map((s) => s.id)).toEqual(['daily']);
    expect(at1330.due.map((s) => s.id)).toEqual(['always', 'half-hourly']);
    expect(at1330.notDue.map((s) => s.id)).toEqual(['hourly', 'daily']);
  });

  it('gives the same answer for the same scheduled time, whatever the call', () => {
    const sources = [source('hourly', { every: '1h' })];
    const time = new Date('2026-11-25T14:00:00Z');
    expect(splitByCadence(sources, time, TEN_MINUTES)).toEqual(
      splitByCadence(sources, new Date(time), TEN_MINUTES),
    );
  });
});
