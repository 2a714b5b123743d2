import type { Schedule } from './schedule.js';
import { ScheduleExpressionError } from './schedule-errors.js';

/**
 * AWS cron: six fields, `minutes hours day-of-month month day-of-week year`,
 * evaluated in UTC. Day-of-week counts 1=SUN to 7=SAT. Exactly one of the two
 * day fields is `?`. Supported: `*`, `?`, values, names (JAN-DEC, SUN-SAT),
 * ranges `a-b`, lists `a,b`, steps `a/n`, `*\/n`, `a-b/n`, and the day wildcards
 * `L`, `LW`, `nW` (day-of-month) and `L`, `nL`, `n#k` (day-of-week).
 */

interface FieldSpec {
  readonly name: string;
  readonly min: number;
  readonly max: number;
  readonly names?: readonly string[];
}

const MINUTES: FieldSpec = { name: 'minutes', min: 0, max: 59 };
const HOURS: FieldSpec = { name: 'hours', min: 0, max: 23 };
const DAY_OF_MONTH: FieldSpec = { name: 'day-of-month', min: 1, max: 31 };
const MONTH: FieldSpec = {
  name: 'month',
  min: 1,
  max: 12,
  names: ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'],
};
const DAY_OF_WEEK: FieldSpec = {
  name: 'day-of-week',
  min: 1,
  max: 7,
  names: ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'],
};
/** The year range EventBridge accepts. */
const YEAR: FieldSpec = { name: 'year', min: 1970, max: 2199 };

const MINUTE_MS = 60_000;
const SATURDAY = 7;
const CRON_PATTERN = /^cron\((.*)\)$/;
/** Bounds next() and previous(): enough to walk every day up to the last year when nothing matches. */
const MAX_SEARCH_STEPS = 400_000;

type Fail = (problem: string) => ScheduleExpressionError;
type DayPredicate = (year: number, month: number, day: number) => boolean;

function parseValue(text: string, spec: FieldSpec, fail: Fail): number {
  const index = spec.names?.indexOf(text.toUpperCase()) ?? -1;
  if (index >= 0) return index + spec.min;
  if (text === '?') throw fail(`${spec.name}: ? is only allowed in day-of-month or day-of-week`);
  if (!/^\d+$/.test(text)) {
    const names = spec.names ? ` or a name ${spec.names[0]}-${spec.names.at(-1)}` : '';
    throw fail(`${spec.name}: expected a number ${spec.min}-${spec.max}${names}, got ${text}`);
  }
  const value = Number(text);
  if (value < spec.min || value > spec.max) {
    throw fail(`${spec.name}: ${value} is outside ${spec.min}-${spec.max}`);
  }
  return value;
}

/** One list item without wildcards: `*`, `5`, `MON-FRI`, `0/10`, `*\/5`, `1-20/2`. */
function parseItem(item: string, spec: FieldSpec, fail: Fail, into: Set<number>): void {
  const [range = '', stepText, ...extra] = item.split('/');
  if (extra.length > 0) throw fail(`${spec.name}: more than one / in ${item}`);
  let step = 1;
  if (stepText !== undefined) {
    if (!/^\d+$/.test(stepText) || Number(stepText) < 1) {
      throw fail(`${spec.name}: step must be a whole number of at least 1, got ${stepText}`);
    }
    step = Number(stepText);
  }
  let start: number;
  let end: number;
  if (range === '*') {
    start = spec.min;
    end = spec.max;
  } else if (range.includes('-')) {
    const [from = '', to = '', ...more] = range.split('-');
    if (more.length > 0) throw fail(`${spec.name}: malformed range ${range}`);
    start = parseValue(from, spec, fail);
    end = parseValue(to, spec, fail);
    if (start > end) throw fail(`${spec.name}: range ${range} runs backwards`);
  } else {
    start = parseValue(range, spec, fail);
    end = stepText === undefined ? start : spec.max;
  }
  for (let value = start; value <= end; value += step) into.add(value);
}

function parseSet(field: string, spec: FieldSpec, fail: Fail): Set<number> {
  const values = new Set<number>();
  for (const item of field.split(',')) {
    if (item === '') throw fail(`${spec.name}: empty item in list ${field}`);
    parseItem(item, spec, fail, values);
  }
  return values;
}

function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

/** 1 = Sunday ... 7 = Saturday, as AWS cron counts. */
function dayOfWeek(year: number, month: number, day: number): number {
  return new Date(Date.UTC(year, month - 1, day)).getUTCDay() + 1;
}

/** The weekday (Mon-Fri) nearest to `target` without leaving the month. */
function nearestWeekday(year: number, month: number, target: number): number {
  const last = daysInMonth(year, month);
  const weekday = dayOfWeek(year, month, target);
  if (weekday === SATURDAY) return target === 1 ? 3 : target - 1;
  if (weekday === 1) return target === last ? target - 2 : target + 1;
  return target;
}

function parseDayOfMonth(field: string, fail: Fail): DayPredicate {
  const checks: DayPredicate[] = [];
  const plain = new Set<number>();
  for (const item of field.split(',')) {
    const upper = item.toUpperCase();
    const weekday = /^(\d+)W$/.exec(upper);
    if (upper === 'L') {
      checks.push((year, month, day) => day === daysInMonth(year, month));
    } else if (upper === 'LW') {
      checks.push(
        (year, month, day) => day === nearestWeekday(year, month, daysInMonth(year, month)),
      );
    } else if (weekday) {
      const target = parseValue(weekday[1] ?? '', DAY_OF_MONTH, fail);
      checks.push(
        (year, month, day) =>
          target <= daysInMonth(year, month) && day === nearestWeekday(year, month, target),
      );
    } else if (item === '') {
      throw fail(`day-of-month: empty item in list ${field}`);
    } else {
      parseItem(item, DAY_OF_MONTH, fail, plain);
    }
  }
  return (year, month, day) => plain.has(day) || checks.some((check) => check(year, month, day));
}

function parseDayOfWeek(field: string, fail: Fail): DayPredicate {
  const checks: DayPredicate[] = [];
  const plain = new Set<number>();
  for (const item of field.split(',')) {
    const upper = item.toUpperCase();
    const last = /^(\w+)L$/.exec(upper);
    const nth = /^(\w+)#(\d+)$/.exec(upper);
    if (upper === 'L') {
      plain.add(SATURDAY);
    } else if (last) {
      const weekday = parseValue(last[1] ?? '', DAY_OF_WEEK, fail);
      checks.push(
        (year, month, day) =>
          dayOfWeek(year, month, day) === weekday && day + 7 > daysInMonth(year, month),
      );
    } else if (nth) {
      const weekday = parseValue(nth[1] ?? '', DAY_OF_WEEK, fail);
      const occurrence = Number(nth[2]);
      if (occurrence < 1 || occurrence > 5) {
        throw fail(`day-of-week: ${item}: the occurrence after # must be 1-5`);
      }
      checks.push(
        (year, month, day) =>
          dayOfWeek(year, month, day) === weekday && Math.ceil(day / 7) === occurrence,
      );
    } else if (item === '') {
      throw fail(`day-of-week: empty item in list ${field}`);
    } else {
      parseItem(item, DAY_OF_WEEK, fail, plain);
    }
  }
  return (year, month, day) =>
    plain.has(dayOfWeek(year, month, day)) || checks.some((check) => check(year, month, day));
}

function nextInSet(values: ReadonlySet<number>, after: number): number | undefined {
  let best: number | undefined;
  for (const value of values)
    if (value > after && (best === undefined || value < best)) best = value;
  return best;
}

function previousInSet(values: ReadonlySet<number>, before: number): number | undefined {
  let best: number | undefined;
  for (const value of values)
    if (value < before && (best === undefined || value > best)) best = value;
  return best;
}

export function parseCron(expression: string): Schedule | undefined {
  const match = CRON_PATTERN.exec(expression);
  if (!match) return undefined;
  const fail: Fail = (problem) => new ScheduleExpressionError(expression, problem);
  const fields = (match[1] ?? '').trim().split(/\s+/).filter(Boolean);
  if (fields.length !== 6) {
    throw fail(
      `cron needs 6 fields (minutes hours day-of-month month day-of-week year), got ${fields.length}`,
    );
  }
  const [
    minuteField = '',
    hourField = '',
    domField = '',
    monthField = '',
    dowField = '',
    yearField = '',
  ] = fields;
  if (domField === '?' && dowField === '?') {
    throw fail('day-of-month and day-of-week cannot both be ?: give one of them a value or *');
  }
  if (domField !== '?' && dowField !== '?') {
    throw fail(
      `day-of-month (${domField}) and day-of-week (${dowField}) cannot both be set: use ? in one of them`,
    );
  }
  const minutes = parseSet(minuteField, MINUTES, fail);
  const hours = parseSet(hourField, HOURS, fail);
  const months = parseSet(monthField, MONTH, fail);
  const years = parseSet(yearField, YEAR, fail);
  const dayMatches =
    domField === '?' ? parseDayOfWeek(dowField, fail) : parseDayOfMonth(domField, fail);

  const schedule: Schedule = {
    expression,
    kind: 'cron',
    next(after) {
      let time = Math.floor(after.getTime() / MINUTE_MS) * MINUTE_MS + MINUTE_MS;
      for (let step = 0; step < MAX_SEARCH_STEPS; step += 1) {
        const at = new Date(time);
        const year = at.getUTCFullYear();
        const month = at.getUTCMonth() + 1;
        const day = at.getUTCDate();
        const hour = at.getUTCHours();
        if (!years.has(year)) {
          const nextYear = nextInSet(years, year);
          if (nextYear === undefined) return undefined;
          time = Date.UTC(nextYear, 0, 1);
        } else if (!months.has(month)) {
          time = Date.UTC(year, month, 1);
        } else if (!dayMatches(year, month, day)) {
          time = Date.UTC(year, month - 1, day + 1);
        } else if (!hours.has(hour)) {
          time = Date.UTC(year, month - 1, day, hour + 1);
        } else if (!minutes.has(at.getUTCMinutes())) {
          const minute = nextInSet(minutes, at.getUTCMinutes());
          time =
            minute === undefined
              ? Date.UTC(year, month - 1, day, hour + 1)
              : Date.UTC(year, month - 1, day, hour, minute);
        } else {
          return at;
        }
      }
      return undefined;
    },
    previous(before) {
      // The mirror of next(): jump to the last minute of the field that does not match.
      let time = Math.ceil(before.getTime() / MINUTE_MS) * MINUTE_MS - MINUTE_MS;
      for (let step = 0; step < MAX_SEARCH_STEPS; step += 1) {
        const at = new Date(time);
        const year = at.getUTCFullYear();
        const month = at.getUTCMonth() + 1;
        const day = at.getUTCDate();
        const hour = at.getUTCHours();
        if (!years.has(year)) {
          const previousYear = previousInSet(years, year);
          if (previousYear === undefined) return undefined;
          time = Date.UTC(previousYear + 1, 0, 1) - MINUTE_MS;
        } else if (!months.has(month)) {
          time = Date.UTC(year, month - 1, 1) - MINUTE_MS;
        } else if (!dayMatches(year, month, day)) {
          time = Date.UTC(year, month - 1, day) - MINUTE_MS;
        } else if (!hours.has(hour)) {
          time = Date.UTC(year, month - 1, day, hour) - MINUTE_MS;
        } else if (!minutes.has(at.getUTCMinutes())) {
          const minute = previousInSet(minutes, at.getUTCMinutes());
          time =
            minute === undefined
              ? Date.UTC(year, month - 1, day, hour) - MINUTE_MS
              : Date.UTC(year, month - 1, day, hour, minute);
        } else {
          return at;
        }
      }
      return undefined;
    },
  };
  // EventBridge accepts a cron no date matches (`cron(0 0 30 2 ? *)`) and never fires it;
  // a source with such a cadence would silently never be collected.
  if (schedule.next(new Date(Date.UTC(YEAR.min, 0, 1) - MINUTE_MS)) === undefined) {
    throw fail(
      `never fires: no date from ${YEAR.min} to ${YEAR.max} matches all of its fields (day-of-month ${domField}, month ${monthField}, day-of-week ${dowField}, year ${yearField})`,
    );
  }
  return schedule;
}
