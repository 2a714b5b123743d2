import { parseCron } from './cron.js';
import { ScheduleExpressionError } from './errors.js';
import { parseRate } from './rate.js';

/** A parsed EventBridge schedule expression. All times are UTC. */
export interface Schedule {
  readonly expression: string;
  readonly kind: 'rate' | 'cron';
  /** The first scheduled time strictly after `after`; undefined when there is none (a past year). */
  next(after: Date): Date | undefined;
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
