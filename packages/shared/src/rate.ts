import type { Schedule } from './schedule.js';
import { ScheduleExpressionError } from './schedule-errors.js';

const UNIT_MS = { minute: 60_000, hour: 3_600_000, day: 86_400_000 } as const;
type Unit = keyof typeof UNIT_MS;

const RATE_PATTERN = /^rate\((.*)\)$/;

/**
 * `rate(N unit)`: unit minute(s), hour(s) or day(s), singular exactly when N is 1.
 * AWS counts a rate from when the rule was created; `next` and `previous` use
 * multiples of the period since the Unix epoch (UTC), so `rate(10 minutes)` fires
 * at :00, :10, ... and a restart keeps the same times (and run ids). Code that
 * knows one real fire time steps from it by `periodMs` instead.
 */
export function parseRate(expression: string): Schedule | undefined {
  const match = RATE_PATTERN.exec(expression);
  if (!match) return undefined;
  const fail = (problem: string) => new ScheduleExpressionError(expression, problem);
  const parts = (match[1] ?? '').trim().split(/\s+/);
  if (parts.length !== 2) throw fail('expected rate(<value> <unit>), e.g. rate(10 minutes)');
  const [valueText = '', unitText = ''] = parts;
  if (!/^\d+$/.test(valueText))
    throw fail(`value must be a positive whole number, got ${valueText}`);
  const value = Number(valueText);
  if (value < 1)
    throw fail('value must be at least 1: EventBridge runs a schedule at most once a minute');
  const singular = unitText.endsWith('s') ? unitText.slice(0, -1) : unitText;
  if (!(singular in UNIT_MS)) {
    throw fail(
      `unit must be minute(s), hour(s) or day(s), got ${unitText}${
        /^seconds?$/.test(unitText) ? ': EventBridge runs a schedule at most once a minute' : ''
      }`,
    );
  }
  const unit = singular as Unit;
  if (value === 1 && unitText !== unit) throw fail(`use the singular unit for 1: rate(1 ${unit})`);
  if (value > 1 && unitText === unit) throw fail(`use the plural unit: rate(${value} ${unit}s)`);
  const periodMs = value * UNIT_MS[unit];
  return {
    expression,
    kind: 'rate',
    periodMs,
    next(after) {
      return new Date((Math.floor(after.getTime() / periodMs) + 1) * periodMs);
    },
    previous(before) {
      return new Date((Math.ceil(before.getTime() / periodMs) - 1) * periodMs);
    },
  };
}
