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

/** The flags that choose the local cloud's ports, and their defaults. */
export const PORT_FLAGS =
  '--s3-port, --lambda-port, --demo-port, --secrets-port (default 4600, 4601, 4602, 4603)';

/** A port the local cloud needs is taken. */
export class PortInUseError extends LocalCloudError {
  override name = 'PortInUseError';
  constructor(
    readonly port: number,
    /** The flag that chose it, when one did. */
    readonly flag?: string,
  ) {
    super(
      `port ${port}${flag ? ` (${flag})` : ''} is already in use`,
      `stop the process that holds it, or choose other ports: ${PORT_FLAGS}`,
    );
  }
}

/**
 * The bucket a command reads cannot be read: the endpoint does not answer, the bucket
 * does not exist, or access is refused. The message names the endpoint and the bucket.
 */
export class BucketUnreachableError extends LocalCloudError {
  override name = 'BucketUnreachableError';
}

/** The Lambda Invoke endpoint a command sends work to does not answer. */
export class FunctionUnreachableError extends LocalCloudError {
  override name = 'FunctionUnreachableError';
}

/** A run did not complete: the reason says which part of the local cloud failed. */
export class RunIncompleteError extends LocalCloudError {
  override name = 'RunIncompleteError';
}
