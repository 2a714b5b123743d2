import { FanoutContractError } from './errors.js';

/** A schedule expression EventBridge would not accept (or this evaluator does not support). */
export class ScheduleExpressionError extends FanoutContractError {
  override name = 'ScheduleExpressionError';
  constructor(
    readonly expression: string,
    readonly problem: string,
  ) {
    super(`invalid schedule expression ${JSON.stringify(expression)}: ${problem}`);
  }
}
