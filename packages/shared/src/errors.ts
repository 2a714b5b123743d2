/** Base class of every error the contract raises. */
export class FanoutContractError extends Error {
  override name = 'FanoutContractError';
}

/** A value did not match a schema. `issues` are `path: problem, got value` lines. */
export class ContractValidationError extends FanoutContractError {
  override name = 'ContractValidationError';
  constructor(
    /** What was being validated, e.g. "collector payload". */
    readonly subject: string,
    readonly issues: readonly string[],
  ) {
    super(`invalid ${subject}: ${issues.join('; ')}`);
  }
}

/** A key does not follow the bucket layout. */
export class KeyLayoutError extends FanoutContractError {
  override name = 'KeyLayoutError';
  constructor(
    readonly key: string,
    reason: string,
  ) {
    super(`${reason}: ${JSON.stringify(key)}`);
  }
}
