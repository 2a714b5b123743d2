/**
 * What an S3 error means for the caller, read from the SDK error's name and HTTP status
 * only, so the contract package needs no SDK import.
 */
interface S3ErrorShape {
  readonly name?: string;
  readonly $metadata?: { readonly httpStatusCode?: number };
}

function shape(error: unknown): S3ErrorShape {
  return typeof error === 'object' && error !== null ? (error as S3ErrorShape) : {};
}

/** 404: no such key (GetObject answers NoSuchKey, HeadObject NotFound). */
export function isS3NotFound(error: unknown): boolean {
  const e = shape(error);
  return e.name === 'NoSuchKey' || e.name === 'NotFound' || e.$metadata?.httpStatusCode === 404;
}

/** 412 on a write with `IfNoneMatch: '*'`: the key already exists. */
export function isS3KeyExists(error: unknown): boolean {
  const e = shape(error);
  return e.name === 'PreconditionFailed' || e.$metadata?.httpStatusCode === 412;
}

/** 409: a concurrent conditional write to the same key is in flight; S3 says retry. */
export function isS3ConditionalConflict(error: unknown): boolean {
  const e = shape(error);
  return e.name === 'ConditionalRequestConflict' || e.$metadata?.httpStatusCode === 409;
}
