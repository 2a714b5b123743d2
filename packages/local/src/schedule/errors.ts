import { LocalCloudError } from '../errors.js';

/** A schedule expression EventBridge would not accept (or this emulation does not support). */
export class ScheduleExpressionError extends LocalCloudError {
  override name = 'ScheduleExpressionError';
  constructor(
    readonly expression: string,
    readonly problem: string,
  ) {
    super(`invalid schedule expression ${JSON.stringify(expression)}: ${problem}`);
  }
}
