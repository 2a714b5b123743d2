import { describe, expect, it } from 'vitest';
import { LocalCloudError } from '../../src/errors.js';
import { parseScheduleExpression, ScheduleExpressionError } from '../../src/schedule/index.js';

// The evaluator and its cases live in @fanout/shared (tests/unit/schedule.test.ts).
describe('schedule expressions in the local cloud', () => {
  it('parses with the shared evaluator', () => {
    const schedule = parseScheduleExpression('cron(0/10 * * * ? *)');
    expect(schedule.next(new Date('2026-11-25T13:10:00Z'))?.toISOString()).toBe(
      '2026-11-25T13:20:00.000Z',
    );
  });

  it('reports a bad expression as a local cloud error the CLI prints', () => {
    let caught: unknown;
    try {
      parseScheduleExpression('rate(30 seconds)');
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ScheduleExpressionError);
    expect(caught).toBeInstanceOf(LocalCloudError);
    expect((caught as Error).message).toContain(
      'EventBridge runs a schedule at most once a minute',
    );
  });
});
