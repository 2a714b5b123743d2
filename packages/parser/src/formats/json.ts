import { pipeline, type Readable } from 'node:stream';
import Assembler from 'stream-json/Assembler.js';
import Pick from 'stream-json/filters/Pick.js';
import StreamJsonParser from 'stream-json/Parser.js';
import { MalformedInputError, ParserError, RecordTooLargeError } from '../errors.js';
import type { Extractor, ExtractorContext } from './types.js';

interface Token {
  readonly name: string;
  readonly value?: string;
}

/** Approximate serialized size of a token, to bound one record's size while it is assembled. */
function tokenBytes(token: Token): number {
  return typeof token.value === 'string' ? token.value.length + 3 : 5;
}

function tokens(input: Readable, recordsPath: string | undefined): Readable {
  // Packed values only: the record is assembled anyway, and chunk tokens would double the work.
  const parser = new StreamJsonParser({ packValues: true, streamValues: false });
  return recordsPath === undefined
    ? pipeline(input, parser, () => {})
    : pipeline(input, parser, new Pick({ filter: recordsPath, once: true }), () => {});
}

function wrap(error: unknown, context: ExtractorContext, record: number, started: boolean): Error {
  if (error instanceof ParserError) return error;
  const message = error instanceof Error ? error.message : String(error);
  const read = context.bytesRead();
  if (!started && /expected a value/.test(message) && read === 0) {
    return new MalformedInputError(context.format, 'empty document', { byteOffset: 0 });
  }
  // stream-json reports no position; the bytes read so far bound where it stopped.
  return new MalformedInputError(context.format, `${message} (within the first ${read} bytes)`, {
    record,
    byteOffset: read,
  });
}

/**
 * A JSON document. Records are the elements of the array at `recordsPath` (a
 * dot path, e.g. `data.items`), or of the root array; a root object (or the
 * object at the path) is one record. Elements are assembled one at a time.
 */
export const json: Extractor = async function* json(input, context) {
  const { recordsPath } = context.options;
  const stream = tokens(input, recordsPath);
  const assembler = new Assembler();
  let mode: 'start' | 'array' | 'single' | 'end' = 'start';
  let index = 0;
  let recordBytes = 0;
  try {
    for await (const chunk of stream) {
      const token = chunk as Token;
      if (mode === 'start') {
        if (token.name === 'startArray') {
          mode = 'array';
          continue;
        }
        mode = 'single';
      } else if (mode === 'array' && assembler.done && token.name === 'endArray') {
        mode = 'end';
        continue;
      }
      assembler.consume(token);
      recordBytes += tokenBytes(token);
      if (recordBytes > context.maxRecordBytes) {
        throw new RecordTooLargeError(context.format, context.maxRecordBytes, {
          record: index,
          byteOffset: context.bytesRead(),
        });
      }
      if (assembler.done) {
        yield assembler.current as unknown;
        index += 1;
        recordBytes = 0;
        if (mode === 'single') mode = 'end';
      }
    }
  } catch (error) {
    throw wrap(error, context, index, mode !== 'start');
  } finally {
    stream.destroy();
  }
  if (mode === 'start') {
    throw new MalformedInputError(
      context.format,
      recordsPath === undefined
        ? 'empty document'
        : `no value at recordsPath ${JSON.stringify(recordsPath)}`,
      { byteOffset: context.bytesRead() },
    );
  }
};
