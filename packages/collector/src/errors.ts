import { isPermanentHttpStatus, redactUrl, redactUrlsIn } from '@fanout/shared';

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

/**
 * A problem with one source's fetch. Recorded as the task's failure reason and
 * logged, so every URL in the message is redacted here, whoever builds it:
 * no `user:password@`, no query values.
 */
export class SourceFetchError extends CollectorError {
  override name = 'SourceFetchError';
  /**
   * Sending the task again cannot help until the source is edited: recorded on the
   * failed outcome, and `fanout replay` leaves it out unless asked.
   */
  readonly permanent: boolean = false;
  constructor(
    readonly sourceId: string,
    message: string,
  ) {
    super(redactUrlsIn(message));
  }
}

/** The URL (or a redirect target) resolves to an address the SSRF guard refuses. */
export class SsrfBlockedError extends SourceFetchError {
  override name = 'SsrfBlockedError';
  override readonly permanent = true;
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
  override readonly permanent = true;
  /** The refused URL, redacted (it may be `ftp://user:password@...`). */
  readonly url: string;
  constructor(sourceId: string, url: string) {
    const redacted = redactUrl(url);
    super(sourceId, `only http and https are fetched, got ${JSON.stringify(redacted)}`);
    this.url = redacted;
  }
}

export class TooManyRedirectsError extends SourceFetchError {
  override name = 'TooManyRedirectsError';
  override readonly permanent = true;
  constructor(sourceId: string, limit: number) {
    super(sourceId, `more than ${limit} redirects`);
  }
}

/**
 * The body grew past the size limit while streaming. For a compressed body the limit
 * bounds the decoded bytes, so a compression bomb ends here, naming its encoding.
 */
export class BodyTooLargeError extends SourceFetchError {
  override name = 'BodyTooLargeError';
  override readonly permanent = true;
  constructor(
    sourceId: string,
    readonly limitBytes: number,
    /** The Content-Encoding the body was decoded from, if any. */
    readonly encoding?: string,
    /** The Content-Length the response announced, when that alone refused it (no byte read). */
    readonly announcedBytes?: number,
  ) {
    super(
      sourceId,
      announcedBytes !== undefined
        ? `Content-Length ${announcedBytes} exceeds the limit of ${limitBytes} bytes; the body was not downloaded`
        : `body exceeds ${limitBytes} bytes${encoding ? ` once decoded from ${encoding}` : ''}`,
    );
  }
}

/** The response's Content-Encoding is one the collector cannot decode. */
export class UnsupportedContentEncodingError extends SourceFetchError {
  override name = 'UnsupportedContentEncodingError';
  constructor(
    sourceId: string,
    readonly encoding: string,
    /** Set when the encoding is refused for its number of layers. */
    maxLayers?: number,
  ) {
    super(
      sourceId,
      maxLayers === undefined
        ? `response has Content-Encoding ${JSON.stringify(encoding)}; the collector decodes gzip, deflate and br`
        : `response has Content-Encoding ${JSON.stringify(encoding.slice(0, 100))}: more than ${maxLayers} layers`,
    );
  }
}

/** A compressed body that does not decode: truncated or corrupt. */
export class ContentDecodingError extends SourceFetchError {
  override name = 'ContentDecodingError';
  constructor(
    sourceId: string,
    readonly encoding: string,
    detail: string,
  ) {
    super(sourceId, `${encoding} body is truncated or corrupt: ${detail}`);
  }
}

/** All pages of one source together passed the per-source limit (they are held until stored). */
export class SourceTooLargeError extends SourceFetchError {
  override name = 'SourceTooLargeError';
  override readonly permanent = true;
  constructor(
    sourceId: string,
    readonly limitBytes: number,
    /** The Content-Encoding of the page that passed the limit, if it was decoded. */
    readonly encoding?: string,
  ) {
    super(
      sourceId,
      `pages together exceed the collector's limit of ${limitBytes} bytes per source${
        encoding ? ` (decoded from ${encoding})` : ''
      }`,
    );
  }
}

/** The upstream answered with an error status (after retries, for retryable ones). */
export class UpstreamHttpError extends SourceFetchError {
  override name = 'UpstreamHttpError';
  /** The URL that answered, redacted. */
  readonly url: string;
  /** A 4xx other than 408 and 429: asking again gets the same answer. */
  override readonly permanent: boolean;
  constructor(
    sourceId: string,
    readonly status: number,
    url: string,
    detail?: string,
  ) {
    const redacted = redactUrl(url);
    super(sourceId, `HTTP ${status} from ${redacted}${detail ? ` (${detail})` : ''}`);
    this.url = redacted;
    this.permanent = isPermanentHttpStatus(status);
  }
}

/** A redirect or next-page link from https to http: credentials and content would travel in clear. */
export class InsecureDowngradeError extends SourceFetchError {
  override name = 'InsecureDowngradeError';
  override readonly permanent = true;
  /** Both URLs, redacted. */
  readonly from: string;
  readonly to: string;
  constructor(
    sourceId: string,
    readonly via: 'redirect' | 'next page',
    from: string,
    to: string,
  ) {
    const [redactedFrom, redactedTo] = [redactUrl(from), redactUrl(to)];
    super(sourceId, `refused ${via} from https to http: ${redactedFrom} -> ${redactedTo}`);
    this.from = redactedFrom;
    this.to = redactedTo;
  }
}

/**
 * The source's maxBytes is above what the collector can hold: with every
 * concurrent fetch at its limit, the spooled bodies must fit the function's /tmp.
 */
export class MaxBytesTooLargeError extends SourceFetchError {
  override name = 'MaxBytesTooLargeError';
  override readonly permanent = true;
  constructor(
    sourceId: string,
    readonly maxBytes: number,
    readonly limitBytes: number,
  ) {
    super(
      sourceId,
      `maxBytes ${maxBytes} is above the collector's limit of ${limitBytes} bytes per source`,
    );
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

/**
 * The stored bytes of an interrupted download could not be read back (gone, or no
 * permission): the download restarts from byte 0 rather than failing.
 */
export class PartialUnavailableError extends CollectorError {
  override name = 'PartialUnavailableError';
  constructor(
    readonly key: string,
    cause: unknown,
  ) {
    super(
      `partial download ${key} cannot be used: ${cause instanceof Error ? cause.message : String(cause)}`,
    );
  }
}

/** Writing to S3 failed after the SDK's own retries: transient, so the invocation throws. */
export class StoreError extends CollectorError {
  override name = 'StoreError';
  constructor(
    readonly key: string,
    override readonly cause: unknown,
    readonly action: 'write' | 'read' = 'write',
  ) {
    super(
      `could not ${action} s3 object ${key}: ${cause instanceof Error ? cause.message : String(cause)}`,
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
