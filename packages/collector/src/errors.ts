/** Base class of every error the collector raises. */
export class CollectorError extends Error {
  override name = 'CollectorError';
}

/** A setting in the environment is missing or malformed. */
export class ConfigError extends CollectorError {
  override name = 'ConfigError';
  constructor(
    readonly variable: string,
    reason: string,
  ) {
    super(`${variable}: ${reason}`);
  }
}

/** A problem with one source's fetch. Recorded as the task's failure reason. */
export class SourceFetchError extends CollectorError {
  override name = 'SourceFetchError';
  constructor(
    readonly sourceId: string,
    message: string,
  ) {
    super(message);
  }
}

/** The URL (or a redirect target) resolves to an address the SSRF guard refuses. */
export class SsrfBlockedError extends SourceFetchError {
  override name = 'SsrfBlockedError';
  constructor(
    sourceId: string,
    readonly host: string,
    readonly address: string,
    readonly range: string,
  ) {
    super(
      sourceId,
      `refused ${host}: resolves to ${address} (${range}); set allowPrivateNetwork to fetch it`,
    );
  }
}

/** Only http and https are fetched, including redirect targets. */
export class UnsupportedProtocolError extends SourceFetchError {
  override name = 'UnsupportedProtocolError';
  constructor(
    sourceId: string,
    readonly url: string,
  ) {
    super(sourceId, `only http and https are fetched, got ${JSON.stringify(url)}`);
  }
}

export class TooManyRedirectsError extends SourceFetchError {
  override name = 'TooManyRedirectsError';
  constructor(sourceId: string, limit: number) {
    super(sourceId, `more than ${limit} redirects`);
  }
}

/** The body grew past the size limit while streaming. */
export class BodyTooLargeError extends SourceFetchError {
  override name = 'BodyTooLargeError';
  constructor(
    sourceId: string,
    readonly limitBytes: number,
  ) {
    super(sourceId, `body exceeds ${limitBytes} bytes`);
  }
}

/** The upstream answered with an error status (after retries, for retryable ones). */
export class UpstreamHttpError extends SourceFetchError {
  override name = 'UpstreamHttpError';
  constructor(
    sourceId: string,
    readonly status: number,
    readonly url: string,
  ) {
    super(sourceId, `HTTP ${status} from ${url}`);
  }
}

/** One request took longer than the source's timeoutMs. */
export class FetchTimeoutError extends SourceFetchError {
  override name = 'FetchTimeoutError';
  constructor(sourceId: string, timeoutMs: number) {
    super(sourceId, `no complete response within ${timeoutMs} ms`);
  }
}

/** A transport-level failure (connection refused, reset, DNS failure). */
export class NetworkError extends SourceFetchError {
  override name = 'NetworkError';
}

/** The next-page reference could not be followed. */
export class PaginationError extends SourceFetchError {
  override name = 'PaginationError';
}

/** The invocation reached its hard deadline while this source was being fetched. */
export class DeadlineAbortError extends SourceFetchError {
  override name = 'DeadlineAbortError';
  constructor(sourceId: string) {
    super(sourceId, 'aborted at the hard deadline; continued in the next hop');
  }
}

/** Writing to S3 failed after the SDK's own retries: transient, so the invocation throws. */
export class StoreError extends CollectorError {
  override name = 'StoreError';
  constructor(
    readonly key: string,
    override readonly cause: unknown,
  ) {
    super(
      `could not write s3 object ${key}: ${cause instanceof Error ? cause.message : String(cause)}`,
    );
  }
}

/** The continuation could not be invoked and a retry may succeed. */
export class ContinuationInvokeError extends CollectorError {
  override name = 'ContinuationInvokeError';
  constructor(
    readonly runId: string,
    readonly batchId: string,
    readonly hop: number,
    override readonly cause: unknown,
  ) {
    super(
      `could not invoke continuation hop ${hop} of ${runId}/${batchId}: ${
        cause instanceof Error ? cause.message : String(cause)
      }`,
    );
  }
}

/**
 * The hop's pack could not be built (its spool file could not be written, or its header
 * is invalid). The pack holds other tasks' pages, so the invocation throws and is retried.
 */
export class PackWriteError extends CollectorError {
  override name = 'PackWriteError';
  constructor(
    readonly key: string,
    override readonly cause: unknown,
  ) {
    super(`could not build pack ${key}: ${cause instanceof Error ? cause.message : String(cause)}`);
  }
}
