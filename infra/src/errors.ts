/** Base class of every error the infrastructure program raises. */
export class FanoutInfraError extends Error {
  override name = 'FanoutInfraError';
}

/** A stack config value is missing or malformed. `key` is the full config key, e.g. `fanout:schedule`. */
export class InfraConfigError extends FanoutInfraError {
  override name = 'InfraConfigError';
  constructor(
    readonly key: string,
    readonly problem: string,
    readonly value?: string,
  ) {
    super(
      value === undefined
        ? `config ${key}: ${problem}`
        : `config ${key}: ${problem}, got ${JSON.stringify(value)}`,
    );
  }
}
