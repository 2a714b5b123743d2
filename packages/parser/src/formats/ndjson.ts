import { MalformedInputError } from '../errors.js';
import { isBlank, readLines } from './lines.js';
import { type Extractor, RawJson } from './types.js';

/**
 * One JSON value per line; blank lines are skipped. Each line is validated, then
 * written through as the source wrote it (see RawJson).
 */
export const ndjson: Extractor = async function* ndjson(input, context) {
  let index = 0;
  for await (const batch of readLines(input, context.format, context.maxRecordBytes)) {
    for (const line of batch) {
      if (isBlank(line.text)) continue;
      try {
        JSON.parse(line.text);
      } catch (error) {
        throw new MalformedInputError(
          context.format,
          `line is not valid JSON (${(error as Error).message})`,
          { line: line.number, byteOffset: line.byteOffset, record: index },
        );
      }
      index += 1;
      yield new RawJson(line.text.trim());
    }
  }
};
