/** Validation of EventBridge Scheduler expressions, before AWS sees them. */

const RATE_PATTERN = /^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$/;
const CRON_FIELD_PATTERNS: readonly [string, RegExp][] = [
  ['minutes', /^[0-9,\-*/]+$/],
  ['hours', /^[0-9,\-*/]+$/],
  ['day-of-month', /^[0-9,\-*/?LW]+$/],
  ['month', /^[0-9A-Za-z,\-*/]+$/],
  ['day-of-week', /^[0-9A-Za-z,\-*/?L#]+$/],
  ['year', /^[0-9,\-*/]+$/],
];

/**
 * The problem with a recurring EventBridge Scheduler expression, or undefined
 * when it is well formed. Rules from the Scheduler user guide: a rate uses the
 * singular unit for 1 and the plural otherwise; a cron has six fields and
 * exactly one of day-of-month and day-of-week is `?`.
 */
export function scheduleExpressionProblem(expression: string): string | undefined {
  if (expression.startsWith('rate(')) {
    const match = RATE_PATTERN.exec(expression);
    if (!match)
      return 'a rate must look like rate(10 minutes): a whole number and minute(s), hour(s) or day(s)';
    const [, amount = '', unit = ''] = match;
    const n = Number(amount);
    if (n < 1) return 'a rate must be at least 1';
    const singular = !unit.endsWith('s');
    if (n === 1 && !singular)
      return `a rate of 1 takes the singular unit: rate(1 ${unit.slice(0, -1)})`;
    if (n > 1 && singular) return `a rate above 1 takes the plural unit: rate(${n} ${unit}s)`;
    return undefined;
  }
  if (expression.startsWith('cron(') && expression.endsWith(')')) {
    const fields = expression.slice(5, -1).trim().split(/\s+/);
    if (fields.length !== 6) {
      return `a cron needs six fields (minutes hours day-of-month month day-of-week year), found ${fields.length}`;
    }
    for (const [index, [name, pattern]] of CRON_FIELD_PATTERNS.entries()) {
      const field = fields[index] ?? '';
      if (!pattern.test(field)) return `cron field ${name} is not valid: ${field}`;
    }
    const dayOfMonth = fields[2];
    const dayOfWeek = fields[4];
    if ((dayOfMonth === '?') === (dayOfWeek === '?')) {
      return 'a cron must set exactly one of day-of-month and day-of-week and put ? in the other';
    }
    return undefined;
  }
  return 'must be rate(...) or cron(...) (a one-time at(...) cannot drive a recurring pipeline)';
}
