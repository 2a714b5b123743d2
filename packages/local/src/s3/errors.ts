import { LocalCloudError } from '../errors.js';

/** Base class of the local S3's errors. */
export class LocalS3Error extends LocalCloudError {
  override name = 'LocalS3Error';
}

/** An option of `startLocalS3` is out of range. */
export class LocalS3OptionError extends LocalS3Error {
  override name = 'LocalS3OptionError';
  constructor(
    readonly option: string,
    problem: string,
    readonly value: unknown,
  ) {
    super(`${option}: ${problem}, got ${JSON.stringify(value)}`);
  }
}

/** A notification could not be delivered after every retry. */
export class NotificationDeliveryError extends LocalS3Error {
  override name = 'NotificationDeliveryError';
  constructor(
    readonly key: string,
    readonly attempts: number,
    cause: unknown,
  ) {
    super(
      `notification for ${JSON.stringify(key)} not delivered after ${attempts} attempts: ${
        cause instanceof Error ? cause.message : String(cause)
      }`,
      undefined,
      { cause },
    );
  }
}
