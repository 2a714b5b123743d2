/** Base class of the local S3's errors. `hint` says what to do about it. */
export class LocalS3Error extends Error {
  override name = 'LocalS3Error';
  constructor(
    message: string,
    readonly hint?: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
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

/** The port asked for is taken. */
export class LocalS3PortInUseError extends LocalS3Error {
  override name = 'LocalS3PortInUseError';
  constructor(
    readonly port: number,
    readonly host: string,
  ) {
    super(`port ${port} on ${host} is in use`, 'choose another port for S3 (--s3-port)');
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

/**
 * An answer in S3's terms: the HTTP status, S3's error code and message, and the extra
 * elements S3 puts in its XML error body (Key, BucketName, UploadId, ...).
 */
export class S3Error extends LocalS3Error {
  override name = 'S3Error';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: Readonly<Record<string, string | number>> = {},
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
  }
}

export const noSuchKey = (key: string) =>
  new S3Error(404, 'NoSuchKey', 'The specified key does not exist.', { Key: key });
export const noSuchBucket = (bucket: string) =>
  new S3Error(404, 'NoSuchBucket', 'The specified bucket does not exist', { BucketName: bucket });
export const noSuchUpload = (uploadId: string) =>
  new S3Error(
    404,
    'NoSuchUpload',
    'The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.',
    { UploadId: uploadId },
  );
export const preconditionFailed = (condition: string) =>
  new S3Error(
    412,
    'PreconditionFailed',
    'At least one of the pre-conditions you specified did not hold',
    {
      Condition: condition,
    },
  );
export const malformedXml = (why: string) =>
  new S3Error(
    400,
    'MalformedXML',
    `The XML you provided was not well-formed or did not validate against our published schema (${why})`,
  );
export const invalidArgument = (name: string, value: string, message: string) =>
  new S3Error(400, 'InvalidArgument', message, { ArgumentName: name, ArgumentValue: value });
export const notImplemented = (what: string) =>
  new S3Error(501, 'NotImplemented', `${what} is not implemented by the local S3 server`);
