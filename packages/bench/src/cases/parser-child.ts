import { RESULT_PREFIX } from '../child.js';
import {
  hashRecords,
  type InputFormat,
  isRecordHasher,
  naiveFromS3,
  parseFromFile,
  parseFromS3,
  perObject,
  type SmallObjectKind,
  type WorkResult,
} from './parser-work.js';

/** Line prefix of the child's progress on its stdout (its result: RESULT_PREFIX). */
export const PROGRESS_PREFIX = 'PROGRESS ';

function isFormat(value: string | undefined): value is InputFormat {
  return value === 'ndjson' || value === 'csv';
}

function isSmallKind(value: string | undefined): value is SmallObjectKind {
  return isFormat(value) || value === 'pack';
}

/**
 * Entry point of `parser-child.mjs <work> ...`: one measurement in a fresh
 * process, so its peak RSS belongs to that work alone.
 */
export async function runChild(args: string[]): Promise<number> {
  const [work, a, b, c] = args;
  let result: WorkResult | Awaited<ReturnType<typeof perObject>>;
  if (work === 'per-object' && isSmallKind(a) && b) {
    result = await perObject(a, Number(b));
  } else if (work === 'parse-s3' && a) {
    result = await parseFromS3(a);
  } else if (work === 'parse-file' && a && isFormat(b)) {
    result = await parseFromFile(a, b);
  } else if (work === 'hash-records' && a && isRecordHasher(b)) {
    result = await hashRecords(a, b);
  } else if (work === 'naive-s3' && a && b && isFormat(c)) {
    result = await naiveFromS3(a, b, c, (bytes) =>
      process.stdout.write(`${PROGRESS_PREFIX}${bytes}\n`),
    );
  } else {
    process.stderr.write(`bad child arguments: ${JSON.stringify(args)}\n`);
    return 2;
  }
  process.stdout.write(`${RESULT_PREFIX}${JSON.stringify(result)}\n`);
  return 0;
}
