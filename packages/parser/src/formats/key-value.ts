import { MalformedInputError, RecordTooLargeError } from '../errors.js';
import { isBlank, readLines } from './lines.js';
import type { Extractor } from './types.js';

/**
 * The example custom extractor (format `key-value`): blocks of `key=value` or
 * `key: value` lines separated by blank lines, one record per block; lines
 * starting with `#` are comments. Written only against the public Extractor
 * contract, as a user's own extractor would be.
 */
export const keyValue: Extractor = async function* keyValue(input, context) {
  let record: Record<string, string> | undefined;
  let recordBytes = 0;
  let index = 0;
  for await (const batch of readLines(input, context.format, context.maxRecordBytes)) {
    for (const line of batch) {
      if (isBlank(line.text)) {
        if (record) {
          yield record;
          index += 1;
          record = undefined;
          recordBytes = 0;
        }
        continue;
      }
      const text = line.text.trim();
      if (text.startsWith('#')) continue;
      const separator = text.search(/[=:]/);
      const key = separator > 0 ? text.slice(0, separator).trim() : '';
      if (key === '') {
        throw new MalformedInputError(
          context.format,
          `expected "key=value" or "key: value", got ${JSON.stringify(text.slice(0, 80))}`,
          { line: line.number, byteOffset: line.byteOffset, record: index },
        );
      }
      recordBytes += line.text.length;
      if (recordBytes > context.maxRecordBytes) {
        throw new RecordTooLargeError(context.format, context.maxRecordBytes, {
          line: line.number,
          byteOffset: line.byteOffset,
          record: index,
        });
      }
      record ??= {};
      record[key] = text.slice(separator + 1).trim();
    }
  }
  if (record) yield record;
};
