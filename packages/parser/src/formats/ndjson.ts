import { MalformedInputError } from '../errors.js';
import {
  JSON_COMPACT,
  JSON_SPACED,
  JSON_TOO_DEEP,
  MAX_JSON_DEPTH,
  scanJsonValue,
} from './json-validate.js';
import { isBlank, lineText, readLineSpans } from './lines.js';
import { type Extractor, RawJson, RawJsonSpans } from './types.js';

const isJsonWhitespace = (byte: number | undefined) =>
  byte === 0x20 || byte === 0x09 || byte === 0x0d || byte === 0x0a;

/**
 * One JSON value per line; blank lines are skipped. Each line is validated, then written as
 * the source wrote it (see RawJson): surrounding whitespace trimmed and whitespace between
 * tokens (a raw CR among it) left out, every value byte for byte.
 *
 * Lines are checked as bytes (`scanJsonValue`) and handed on as byte ranges, many at a time:
 * no line is decoded or parsed into objects. A line the byte check does not accept goes the
 * way every line used to: decoded, skipped when blank, else `JSON.parse` words the error (or,
 * for what only JSON.parse accepts, such as a BOM on line 1, the line is kept as text).
 */
export const ndjson: Extractor = async function* ndjson(input, context) {
  let index = 0;
  for await (const spansList of readLineSpans(input, context.format, context.maxRecordBytes)) {
    for (const { bytes, starts, ends, firstNumber, offsetBase } of spansList) {
      let keptStarts: number[] = [];
      let keptEnds: number[] = [];
      let kept: number[] = [];
      const flush = () => {
        const spans = new RawJsonSpans(bytes, keptStarts, keptEnds, Uint8Array.from(kept));
        keptStarts = [];
        keptEnds = [];
        kept = [];
        return spans;
      };
      for (let i = 0; i < starts.length; i += 1) {
        const lineStart = starts[i] ?? 0;
        const lineEnd = ends[i] ?? lineStart;
        let start = lineStart;
        let end = lineEnd;
        while (start < end && isJsonWhitespace(bytes[start])) start += 1;
        while (end > start && isJsonWhitespace(bytes[end - 1])) end -= 1;
        if (start === end) continue;
        const number = firstNumber + i;
        const scan = scanJsonValue(bytes, start, end);
        if (scan === JSON_COMPACT || scan === JSON_SPACED) {
          keptStarts.push(start);
          keptEnds.push(end);
          kept.push(scan);
          index += 1;
          continue;
        }
        const location = { line: number, byteOffset: offsetBase + lineStart, record: index };
        if (scan === JSON_TOO_DEEP) {
          throw new MalformedInputError(
            context.format,
            `line nests deeper than ${MAX_JSON_DEPTH} levels (the parser's limit: most JSON readers, Python's among them, stop near it)`,
            location,
          );
        }
        const text = lineText(bytes, lineStart, lineEnd, number === 1);
        if (isBlank(text)) continue;
        try {
          JSON.parse(text);
        } catch (error) {
          throw new MalformedInputError(
            context.format,
            `line is not valid JSON (${(error as Error).message})`,
            location,
          );
        }
        if (keptStarts.length > 0) yield flush();
        index += 1;
        yield new RawJson(text.trim());
      }
      if (keptStarts.length > 0) yield flush();
    }
  }
};
