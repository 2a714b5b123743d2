import { parseCron } from './cron.js';
import { parseRate } from './rate.js';
import { ScheduleExpressionError } from './schedule-errors.js';

export { ScheduleExpressionError } from './schedule-errors.js';

/**
 * A parsed EventBridge schedule expression. All times are UTC. The local cloud
 * fires it; the manager walks it backwards to find the previous scheduled run.
 */
export interface Schedule {
  readonly expression: string;
  readonly kind: 'rate' | 'cron';
  /** For `rate(...)`: the fixed time between two fire times. */
  readonly periodMs?: number;
  /** The first scheduled time strictly after `after`; undefined when there is none (a past year). */
  next(after: Date): Date | undefined;
  /** The last scheduled time strictly before `before`; undefined when there is none. */
  previous(before: Date): Date | undefined;
}

/** Parses `rate(...)` or six-field AWS `cron(...)`; errors say what is wrong and how to write it. */
export function parseScheduleExpression(expression: string): Schedule {
  const trimmed = expression.trim();
  const schedule = parseRate(trimmed) ?? parseCron(trimmed);
  if (!schedule) {
    throw new ScheduleExpressionError(
      expression,
      'expected rate(<value> <unit>) or cron(<minutes> <hours> <day-of-month> <month> <day-of-week> <year>)',
    );
  }
  return schedule;
}

/**
 * Up to `count` scheduled times before `from`, newest first. When `from` is itself a
 * fire time of a rate schedule, the earlier ones are `from` minus whole periods: AWS
 * counts a rate from the rule's creation, so only arithmetic from a real fire time
 * finds its neighbours. Otherwise (a cron, or a time that is not a fire time) the
 * expression is evaluated backwards.
 */
export function previousFireTimes(
  schedule: Schedule,
  from: Date,
  count: number,
  options: { readonly fromIsFireTime: boolean },
): Date[] {
  const times: Date[] = [];
  if (schedule.periodMs !== undefined && options.fromIsFireTime) {
    for (let k = 1; k <= count; k += 1) {
      times.push(new Date(from.getTime() - k * schedule.periodMs));
    }
    return times;
  }
  let at: Date | undefined = from;
  while (times.length < count) {
    at = schedule.previous(at);
    if (at === undefined) break;
    times.push(at);
  }
  return times;
}
