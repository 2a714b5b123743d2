/**
 * Base class of the local cloud's errors (the S3, Lambda, schedule and demo parts
 * extend it too). Each may carry a hint: what to do about it.
 */
export class LocalCloudError extends Error {
  override name = 'LocalCloudError';
  constructor(
    message: string,
    readonly hint?: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** A command line that cannot be run as given. */
export class UsageError extends LocalCloudError {
  override name = 'UsageError';
}

/** A port the local cloud needs is taken. */
export class PortInUseError extends LocalCloudError {
  override name = 'PortInUseError';
  constructor(readonly port: number) {
    super(
      `port ${port} is already in use`,
      'stop the process that holds it, or pass another port (--s3-port / --lambda-port)',
    );
  }
}

/** A run did not complete: the reason says which part of the local cloud failed. */
export class RunIncompleteError extends LocalCloudError {
  override name = 'RunIncompleteError';
}
