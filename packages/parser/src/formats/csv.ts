import { pipeline } from 'node:stream';
import { CsvError, parse } from 'csv-parse';
import { MalformedInputError, ParserError, RecordTooLargeError } from '../errors.js';
import type { Extractor } from './types.js';

function failure(error: unknown, format: string, maxRecordBytes: number): Error {
  if (error instanceof ParserError) return error;
  if (error instanceof CsvError) {
    const details = error as CsvError & {
      lines?: number;
      records?: number;
      bytes_records?: number;
    };
    const location = {
      ...(typeof details.lines === 'number' ? { line: details.lines } : {}),
      ...(typeof details.records === 'number' ? { record: details.records } : {}),
      ...(typeof details.bytes_records === 'number' ? { byteOffset: details.bytes_records } : {}),
    };
    if (error.code === 'CSV_MAX_RECORD_SIZE') {
      return new RecordTooLargeError(format, maxRecordBytes, location);
    }
    return new MalformedInputError(format, `${error.code}: ${error.message}`, location);
  }
  return error instanceof Error ? error : new Error(String(error));
}

/**
 * CSV with quoted fields. By default the first row names the columns and each
 * record is an object; with `header: false` each record is an array of fields.
 */
export const csv: Extractor = async function* csv(input, context) {
  const parser = parse({
    columns: context.options.header ?? true,
    delimiter: context.options.delimiter ?? ',',
    bom: true,
    skip_empty_lines: true,
    max_record_size: context.maxRecordBytes,
  });
  // pipeline destroys both streams when either fails or the consumer stops early.
  const records = pipeline(input, parser, () => {});
  try {
    for await (const record of records) yield record as unknown;
  } catch (error) {
    throw failure(error, context.format, context.maxRecordBytes);
  } finally {
    records.destroy();
  }
};
