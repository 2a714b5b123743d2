import { RecordTooLargeError } from '../errors.js';

export interface Line {
  /** UTF-8 text without the line terminator (`\n` or `\r\n`). */
  readonly text: string;
  /** 1-based line number. */
  readonly number: number;
  /** Byte offset of the line's first byte in the object. */
  readonly byteOffset: number;
}

/**
 * Consecutive lines as byte ranges of one buffer, without decoding them: line `i` is
 * `bytes[starts[i], ends[i])` (the `\n` excluded, a `\r` before it included), its number
 * `firstNumber + i` and its offset in the object `offsetBase + starts[i]`.
 */
export interface LineSpans {
  readonly bytes: Buffer;
  readonly starts: readonly number[];
  readonly ends: readonly number[];
  readonly firstNumber: number;
  readonly offsetBase: number;
}

const NEWLINE = 0x0a;
const CARRIAGE_RETURN = 0x0d;
const BYTE_ORDER_MARK = '\uFEFF';

/** The text of `bytes[start, end)` without a trailing `\r`; a BOM is dropped from line 1. */
export function lineText(bytes: Buffer, start: number, end: number, isFirst: boolean): string {
  const stop = end > start && bytes[end - 1] === CARRIAGE_RETURN ? end - 1 : end;
  const text = bytes.toString('utf8', start, stop);
  return isFirst && text.startsWith(BYTE_ORDER_MARK) ? text.slice(1) : text;
}

/**
 * Splits a byte stream into lines, one batch per input chunk (a batch per line would cost an
 * await per line), as byte ranges: a line that began in earlier chunks comes first, in a
 * buffer of its own. Only a line still being read is buffered, and never beyond
 * `maxLineBytes`. Every line of a chunk is checked against the limit before the batch is
 * yielded.
 */
export async function* readLineSpans(
  input: AsyncIterable<Buffer | string>,
  format: string,
  maxLineBytes: number,
): AsyncGenerator<LineSpans[]> {
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let pendingOffset = 0;
  let lineNumber = 0;
  let consumed = 0;

  const tooLarge = () =>
    new RecordTooLargeError(format, maxLineBytes, {
      line: lineNumber + 1,
      byteOffset: pendingOffset,
    });

  for await (const chunk of input) {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
    const batch: LineSpans[] = [];
    let start = 0;
    let newline = bytes.indexOf(NEWLINE, start);
    if (newline !== -1 && pendingBytes > 0) {
      pending.push(bytes.subarray(0, newline));
      pendingBytes += newline;
      if (pendingBytes > maxLineBytes + 1) throw tooLarge();
      lineNumber += 1;
      batch.push({
        bytes: Buffer.concat(pending, pendingBytes),
        starts: [0],
        ends: [pendingBytes],
        firstNumber: lineNumber,
        offsetBase: pendingOffset,
      });
      pending = [];
      pendingBytes = 0;
      start = newline + 1;
      newline = bytes.indexOf(NEWLINE, start);
    }
    const starts: number[] = [];
    const ends: number[] = [];
    const firstNumber = lineNumber + 1;
    while (newline !== -1) {
      // +1 tolerates the `\r` of a CRLF terminator.
      if (newline - start > maxLineBytes + 1) {
        pendingOffset = consumed + start;
        throw tooLarge();
      }
      lineNumber += 1;
      starts.push(start);
      ends.push(newline);
      start = newline + 1;
      newline = bytes.indexOf(NEWLINE, start);
    }
    if (starts.length > 0) {
      batch.push({ bytes, starts, ends, firstNumber, offsetBase: consumed });
    }
    if (start < bytes.length) {
      if (pendingBytes === 0) pendingOffset = consumed + start;
      pending.push(bytes.subarray(start));
      pendingBytes += bytes.length - start;
      if (pendingBytes > maxLineBytes + 1) throw tooLarge();
    }
    consumed += bytes.length;
    if (batch.length > 0) yield batch;
  }
  if (pendingBytes > 0) {
    if (pendingBytes > maxLineBytes) throw tooLarge();
    lineNumber += 1;
    yield [
      {
        bytes: Buffer.concat(pending, pendingBytes),
        starts: [0],
        ends: [pendingBytes],
        firstNumber: lineNumber,
        offsetBase: pendingOffset,
      },
    ];
  }
}

/**
 * Splits a byte stream into decoded lines, one batch per input chunk. Only a line still being
 * read is buffered, and never beyond `maxLineBytes`.
 */
export async function* readLines(
  input: AsyncIterable<Buffer | string>,
  format: string,
  maxLineBytes: number,
): AsyncGenerator<Line[]> {
  for await (const spansList of readLineSpans(input, format, maxLineBytes)) {
    const batch: Line[] = [];
    for (const spans of spansList) {
      const { bytes, starts, ends, firstNumber, offsetBase } = spans;
      for (let i = 0; i < starts.length; i += 1) {
        const start = starts[i] ?? 0;
        const number = firstNumber + i;
        batch.push({
          text: lineText(bytes, start, ends[i] ?? start, number === 1),
          number,
          byteOffset: offsetBase + start,
        });
      }
    }
    yield batch;
  }
}

/** True for lines holding only whitespace. */
export function isBlank(text: string): boolean {
  return !/\S/.test(text);
}
