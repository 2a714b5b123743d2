import { pipeline, Readable } from 'node:stream';
import Assembler from 'stream-json/Assembler.js';
import Pick from 'stream-json/filters/Pick.js';
import StreamJsonParser from 'stream-json/Parser.js';
import { MalformedInputError, ParserError, RecordTooLargeError } from '../errors.js';
import { JsonSyntaxScanner } from './json-locate.js';
import type { Extractor, ExtractorContext } from './types.js';

interface Token {
  readonly name: string;
  readonly value?: string;
}

/** Approximate serialized size of a token, to bound one record's size while it is assembled. */
function tokenBytes(token: Token): number {
  return typeof token.value === 'string' ? token.value.length + 3 : 5;
}

function tokens(input: AsyncIterable<Buffer>, recordsPath: string | undefined): Readable {
  // Packed values only: the record is assembled anyway, and chunk tokens would double the work.
  const parser = new StreamJsonParser({ packValues: true, streamValues: false });
  const source = Readable.from(input, { objectMode: false });
  return recordsPath === undefined
    ? pipeline(source, parser, () => {})
    : pipeline(source, parser, new Pick({ filter: recordsPath, once: true }), () => {});
}

function wrap(
  error: unknown,
  context: ExtractorContext,
  record: number,
  scanner: JsonSyntaxScanner,
): Error {
  if (error instanceof ParserError) return error;
  const message = error instanceof Error ? error.message : String(error);
  if (!scanner.sawValue) {
    return new MalformedInputError(context.format, 'empty document', {
      byteOffset: context.bytesRead(),
    });
  }
  // Tokens stream-json read ahead are dropped when it fails: the record index is a lower bound.
  const problem = scanner.problem;
  if (problem !== undefined) {
    return new MalformedInputError(context.format, `${message}, found ${problem.found}`, {
      line: problem.line,
      record,
      byteOffset: problem.byteOffset,
    });
  }
  // Not expected (the scanner reads stream-json's grammar); the bytes read are an upper bound.
  const read = context.bytesRead();
  return new MalformedInputError(context.format, `${message} (within the first ${read} bytes)`, {
    record,
    byteOffset: read,
  });
}

/** Throws when strict mode found whitespace JSON does not allow, which stream-json would accept. */
function strictWhitespace(scanner: JsonSyntaxScanner, context: ExtractorContext): void {
  const problem = scanner.problem;
  if (!problem?.whitespace) return;
  throw new MalformedInputError(
    context.format,
    `whitespace JSON does not allow (strict), found ${problem.found}`,
    { line: problem.line, byteOffset: problem.byteOffset },
  );
}

/**
 * A JSON document. Records are the elements of the array at `recordsPath` (a
 * dot path, e.g. `data.items`), or of the root array; a root object (or the
 * object at the path) is one record. Elements are assembled one at a time.
 */
export const json: Extractor = async function* json(input, context) {
  const { recordsPath } = context.options;
  // stream-json reports no position: the scanner reads the same bytes to tell where it failed.
  // In strict mode it also rejects the whitespace stream-json accepts beyond JSON's own.
  const scanner = new JsonSyntaxScanner(context.options.strict === true);
  async function* watched(): AsyncGenerator<Buffer> {
    for await (const chunk of input) {
      const bytes = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : (chunk as Buffer);
      scanner.feed(bytes);
      strictWhitespace(scanner, context);
      yield bytes;
    }
    scanner.end();
    strictWhitespace(scanner, context);
  }
  const stream = tokens(watched(), recordsPath);
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
    throw wrap(error, context, index, scanner);
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
