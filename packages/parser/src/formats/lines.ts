import { RecordTooLargeError } from '../errors.js';

export interface Line {
  /** UTF-8 text without the line terminator (`\n` or `\r\n`). */
  readonly text: string;
  /** 1-based line number. */
  readonly number: number;
  /** Byte offset of the line's first byte in the object. */
  readonly byteOffset: number;
}

const NEWLINE = 0x0a;
const CARRIAGE_RETURN = 0x0d;
const BYTE_ORDER_MARK = '\uFEFF';

function decode(bytes: Buffer, isFirst: boolean): string {
  const end =
    bytes.length > 0 && bytes[bytes.length - 1] === CARRIAGE_RETURN
      ? bytes.length - 1
      : bytes.length;
  const text = bytes.toString('utf8', 0, end);
  return isFirst && text.startsWith(BYTE_ORDER_MARK) ? text.slice(1) : text;
}

/**
 * Splits a byte stream into lines, one batch per input chunk (a batch per line
 * would cost an await per line). Only a line still being read is buffered, and
 * never beyond `maxLineBytes`.
 */
export async function* readLines(
  input: AsyncIterable<Buffer | string>,
  format: string,
  maxLineBytes: number,
): AsyncGenerator<Line[]> {
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
    const batch: Line[] = [];
    let start = 0;
    let newline = bytes.indexOf(NEWLINE, start);
    while (newline !== -1) {
      let lineBytes: Buffer;
      let lineOffset: number;
      if (pendingBytes > 0) {
        pending.push(bytes.subarray(start, newline));
        pendingBytes += newline - start;
        if (pendingBytes > maxLineBytes + 1) throw tooLarge();
        lineBytes = Buffer.concat(pending, pendingBytes);
        lineOffset = pendingOffset;
        pending = [];
        pendingBytes = 0;
      } else {
        lineBytes = bytes.subarray(start, newline);
        lineOffset = consumed + start;
      }
      // +1 tolerates the `\r` of a CRLF terminator.
      if (lineBytes.length > maxLineBytes + 1) {
        pendingOffset = lineOffset;
        throw tooLarge();
      }
      lineNumber += 1;
      batch.push({
        text: decode(lineBytes, lineNumber === 1),
        number: lineNumber,
        byteOffset: lineOffset,
      });
      start = newline + 1;
      newline = bytes.indexOf(NEWLINE, start);
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
        text: decode(Buffer.concat(pending, pendingBytes), lineNumber === 1),
        number: lineNumber,
        byteOffset: pendingOffset,
      },
    ];
  }
}

/** True for lines holding only whitespace. */
export function isBlank(text: string): boolean {
  return !/\S/.test(text);
}
