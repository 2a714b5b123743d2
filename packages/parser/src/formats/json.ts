import { MalformedInputError, RecordTooLargeError } from '../errors.js';
import { JsonSyntaxScanner } from './json-locate.js';
import { type Extractor, type ExtractorContext, RawJsonSpans } from './types.js';

function check(scanner: JsonSyntaxScanner, context: ExtractorContext): void {
  const problem = scanner.problem;
  if (problem !== undefined) {
    throw new MalformedInputError(context.format, `${problem.reason}, found ${problem.found}`, {
      line: problem.line,
      record: scanner.recordsRead,
      byteOffset: problem.byteOffset,
    });
  }
  if (scanner.recordTooLarge) {
    throw new RecordTooLargeError(context.format, context.maxRecordBytes, {
      record: scanner.recordsRead,
      byteOffset: context.bytesRead(),
    });
  }
}

/**
 * A JSON document. Records are the elements of the array at `recordsPath` (a dot path of
 * keys or array indexes, e.g. `data.items`), or of the root array; a root object (or any
 * other value at the path) is one record.
 *
 * Each record is the document's own bytes (see JsonSyntaxScanner): numbers beyond 2^53, `-0`
 * and `1e400` keep their text, strings their escapes, objects their key order, duplicate
 * keys and `__proto__`. Only the whitespace between tokens is left out, so a pretty-printed
 * document gives one line per record. The scanner reads without recursion (nesting is
 * limited to MAX_JSON_DEPTH) and validates the whole document, after the records too.
 */
export const json: Extractor = async function* json(input, context) {
  const { recordsPath } = context.options;
  const scanner = new JsonSyntaxScanner(context.options.strict === true, {
    path: recordsPath === undefined ? [] : recordsPath.split('.'),
    maxRecordBytes: context.maxRecordBytes,
  });
  for await (const chunk of input) {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : (chunk as Buffer);
    scanner.feed(bytes);
    check(scanner, context);
    const records = scanner.takeRecords();
    if (records) yield new RawJsonSpans(records.bytes, records.starts, records.ends, 'compact');
  }
  scanner.end();
  check(scanner, context);
  const records = scanner.takeRecords();
  if (records) yield new RawJsonSpans(records.bytes, records.starts, records.ends, 'compact');
  if (!scanner.sawValue) {
    throw new MalformedInputError(context.format, 'empty document', {
      byteOffset: context.bytesRead(),
    });
  }
  if (!scanner.foundRecords) {
    throw new MalformedInputError(
      context.format,
      `no value at recordsPath ${JSON.stringify(recordsPath)}`,
      { byteOffset: context.bytesRead() },
    );
  }
};
