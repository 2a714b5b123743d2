import {
  ScheduleExpressionError as ContractScheduleExpressionError,
  parseScheduleExpression as parseContractExpression,
  type Schedule,
} from '@fanout/shared';
import { ScheduleExpressionError } from './errors.js';

/** The evaluator lives in `@fanout/shared`: the manager walks the same schedule backwards. */
export type { Schedule };

/** Parses `rate(...)` or six-field AWS `cron(...)`; a bad one is a local cloud error (the CLI reports it). */
export function parseScheduleExpression(expression: string): Schedule {
  try {
    return parseContractExpression(expression);
  } catch (error) {
    if (error instanceof ContractScheduleExpressionError) {
      throw new ScheduleExpressionError(error.expression, error.problem);
    }
    throw error;
  }
}
