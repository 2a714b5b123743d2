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

/** A function's built bundle is not there: the program deploys built code only. */
export class BundleMissingError extends FanoutInfraError {
  override name = 'BundleMissingError';
  constructor(
    readonly file: string,
    buildCommand: string,
  ) {
    super(`${file} is missing: run \`${buildCommand}\` at the repository root, then deploy again`);
  }
}

/** A function's bundle is older than a source file that goes into it. */
export class StaleBundleError extends FanoutInfraError {
  override name = 'StaleBundleError';
  constructor(
    readonly bundle: string,
    readonly newerSource: string,
    buildCommand: string,
    forcedBuildCommand: string,
  ) {
    super(
      `${bundle} is older than ${newerSource}: run \`${buildCommand}\` at the repository root ` +
        `(\`${forcedBuildCommand}\` if the bundle stays as it was), then deploy again`,
    );
  }
}
