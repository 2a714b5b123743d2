import { MalformedInputError } from '../errors.js';
import { isJsonValue } from './json-validate.js';
import { isBlank, lineText, readLineSpans } from './lines.js';
import { type Extractor, RawJson, RawJsonSpans } from './types.js';

const isJsonWhitespace = (byte: number | undefined) =>
  byte === 0x20 || byte === 0x09 || byte === 0x0d || byte === 0x0a;

/**
 * One JSON value per line; blank lines are skipped. Each line is validated, then
 * written through as the source wrote it (see RawJson), surrounding whitespace trimmed.
 *
 * Lines are checked as bytes (`isJsonValue`) and handed on as byte ranges, many at a time:
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
      for (let i = 0; i < starts.length; i += 1) {
        const lineStart = starts[i] ?? 0;
        const lineEnd = ends[i] ?? lineStart;
        let start = lineStart;
        let end = lineEnd;
        while (start < end && isJsonWhitespace(bytes[start])) start += 1;
        while (end > start && isJsonWhitespace(bytes[end - 1])) end -= 1;
        if (start === end) continue;
        if (isJsonValue(bytes, start, end)) {
          keptStarts.push(start);
          keptEnds.push(end);
          index += 1;
          continue;
        }
        const number = firstNumber + i;
        const text = lineText(bytes, lineStart, lineEnd, number === 1);
        if (isBlank(text)) continue;
        try {
          JSON.parse(text);
        } catch (error) {
          throw new MalformedInputError(
            context.format,
            `line is not valid JSON (${(error as Error).message})`,
            { line: number, byteOffset: offsetBase + lineStart, record: index },
          );
        }
        if (keptStarts.length > 0) yield new RawJsonSpans(bytes, keptStarts, keptEnds);
        keptStarts = [];
        keptEnds = [];
        index += 1;
        yield new RawJson(text.trim());
      }
      if (keptStarts.length > 0) yield new RawJsonSpans(bytes, keptStarts, keptEnds);
    }
  }
};
