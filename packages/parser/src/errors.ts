import type { ErrorLocation } from '@fanout/shared';

/** Base class of every error the parser raises. */
export class ParserError extends Error {
  override name = 'ParserError';
}

/**
 * Base class of the errors that mean "this raw object cannot be parsed".
 * Retrying cannot fix them, so the object goes to quarantine instead of being thrown.
 */
export class UnparseableObjectError extends ParserError {
  override name = 'UnparseableObjectError';
  constructor(
    message: string,
    /** Where in the object the problem is, when known. */
    readonly location?: ErrorLocation,
  ) {
    super(message);
  }
}

/** The bytes do not follow the declared format. */
export class MalformedInputError extends UnparseableObjectError {
  override name = 'MalformedInputError';
  constructor(
    readonly format: string,
    /** The problem without its location, so the error can be restated at another location. */
    readonly problem: string,
    location?: ErrorLocation,
  ) {
    super(`malformed ${format}${describeLocation(location)}: ${problem}`, location);
  }
}

/** Bytes that are not valid in the body's character encoding (and the source did not opt into replacement). */
export class UndecodableInputError extends UnparseableObjectError {
  override name = 'UndecodableInputError';
  constructor(
    /** WHATWG name of the encoding the body was decoded with. */
    readonly encoding: string,
    /** Where the encoding was decided: `bom`, `content-type`, `xml-declaration` or `default`. */
    readonly decidedBy: string,
    problem: string,
    location?: ErrorLocation,
  ) {
    super(
      `invalid ${encoding} (from ${decidedBy})${describeLocation(location)}: ${problem}`,
      location,
    );
  }
}

/**
 * A body that still has a Content-Encoding the parser cannot undo: unsupported, corrupt,
 * or decoding to more than FANOUT_MAX_RAW_BYTES (a compression bomb).
 */
export class ContentEncodingError extends UnparseableObjectError {
  override name = 'ContentEncodingError';
  constructor(
    readonly contentEncoding: string,
    problem: string,
  ) {
    super(`Content-Encoding ${JSON.stringify(contentEncoding)}: ${problem}`);
  }
}

/** The content type or the XML declaration names a character set that cannot be decoded. */
export class UnknownCharsetError extends UnparseableObjectError {
  override name = 'UnknownCharsetError';
  constructor(
    readonly label: string,
    /** `content-type` or `xml-declaration`. */
    readonly declaredIn: string,
  ) {
    super(
      `unknown or unsupported charset ${JSON.stringify(label)} (declared in the ${declaredIn})`,
    );
  }
}

/** One line or record is larger than FANOUT_MAX_RECORD_BYTES. */
export class RecordTooLargeError extends UnparseableObjectError {
  override name = 'RecordTooLargeError';
  constructor(
    readonly format: string,
    readonly limitBytes: number,
    location?: ErrorLocation,
  ) {
    super(
      `${format} record${describeLocation(location)} is larger than the ${limitBytes}-byte record limit (FANOUT_MAX_RECORD_BYTES)`,
      location,
    );
  }
}

/** The metadata names a format no extractor is registered for. */
export class UnknownFormatError extends UnparseableObjectError {
  override name = 'UnknownFormatError';
  constructor(
    readonly format: string,
    readonly known: readonly string[],
  ) {
    super(`unknown format ${JSON.stringify(format)} (known: ${known.join(', ')})`);
  }
}

/** The raw object is larger than FANOUT_MAX_RAW_BYTES; it is not parsed at all. */
export class RawObjectTooLargeError extends UnparseableObjectError {
  override name = 'RawObjectTooLargeError';
  constructor(
    readonly sizeBytes: number,
    readonly limitBytes: number,
    /** True when the size was only discovered while reading (no Content-Length). */
    readonly discoveredWhileReading = false,
  ) {
    super(
      discoveredWhileReading
        ? `raw object exceeded the ${limitBytes}-byte limit (FANOUT_MAX_RAW_BYTES) while reading, at byte ${sizeBytes}`
        : `raw object is ${sizeBytes} bytes, over the ${limitBytes}-byte limit (FANOUT_MAX_RAW_BYTES)`,
      discoveredWhileReading ? { byteOffset: limitBytes } : undefined,
    );
  }
}

/** The raw object's S3 metadata does not describe a collector's object. */
export class InvalidMetadataError extends UnparseableObjectError {
  override name = 'InvalidMetadataError';
  constructor(readonly issues: readonly string[]) {
    super(`invalid raw object metadata: ${issues.join('; ')}`);
  }
}

/**
 * A pack that cannot be read at all (corrupt or truncated gzip, a bad header, missing
 * entries, a line over FANOUT_MAX_PACK_LINE_BYTES): the whole pack is quarantined.
 */
export class UnreadablePackError extends UnparseableObjectError {
  override name = 'UnreadablePackError';
  constructor(problem: string, packLine?: number) {
    super(`unreadable pack: ${problem}`, packLine === undefined ? undefined : { line: packLine });
  }
}

/** A pack line that is JSON but not a valid entry: that entry alone is quarantined. */
export class InvalidPackEntryError extends UnparseableObjectError {
  override name = 'InvalidPackEntryError';
  constructor(problem: string, packLine: number) {
    super(`invalid pack entry at pack line ${packLine}: ${problem}`, { line: packLine });
  }
}

/** A custom extractor failed with an error of its own (not a ParserError). */
export class ExtractorFailedError extends UnparseableObjectError {
  override name = 'ExtractorFailedError';
  constructor(
    readonly format: string,
    readonly causeError: Error,
    location?: ErrorLocation,
  ) {
    super(
      `extractor ${JSON.stringify(format)} failed${describeLocation(location)}: ${causeError.name}: ${causeError.message}`,
      location,
    );
  }
}

/** A record lacks the key its source declared (or it is not a string, number or boolean). */
export class RecordKeyError extends UnparseableObjectError {
  override name = 'RecordKeyError';
  constructor(
    readonly record: number,
    readonly problem: string,
  ) {
    super(`record ${record} cannot be identified by its source's key: ${problem}`, { record });
  }
}

/** An extractor name is taken, reserved, or not a valid format name. */
export class ExtractorRegistrationError extends ParserError {
  override name = 'ExtractorRegistrationError';
}

/** A setting in the environment is missing or out of range. */
export class ParserConfigError extends ParserError {
  override name = 'ParserConfigError';
  constructor(
    readonly variable: string,
    problem: string,
  ) {
    super(`${variable}: ${problem}`);
  }
}

/**
 * One or more objects of an event failed for a reason a retry can fix (S3 5xx,
 * network). Thrown by the handler so Lambda's asynchronous retry runs the event again.
 */
export class TransientParseError extends ParserError {
  override name = 'TransientParseError';
  constructor(readonly failures: readonly { key: string; error: Error }[]) {
    super(
      `${failures.length} object(s) failed with a retryable fault: ${failures
        .map((f) => `${f.key}: ${f.error.name}: ${f.error.message}`)
        .join('; ')}`,
    );
  }
}

export function describeLocation(location: ErrorLocation | undefined): string {
  if (!location) return '';
  const parts: string[] = [];
  if (location.line !== undefined) parts.push(`line ${location.line}`);
  if (location.record !== undefined) parts.push(`record ${location.record}`);
  if (location.byteOffset !== undefined) parts.push(`byte ${location.byteOffset}`);
  return parts.length > 0 ? ` at ${parts.join(', ')}` : '';
}
