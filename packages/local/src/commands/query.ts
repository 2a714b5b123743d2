import { fanoutHome } from '../config.js';
import { UsageError } from '../errors.js';
import { cacheDirFor, type RecordsCache, syncRecordsCache } from '../query/cache.js';
import { openRecordsDatabase, type RecordsDatabase } from '../query/engine.js';
import { csvText, jsonLines, tableText } from '../query/output.js';
import { parseCommandArgs } from './args.js';
import { openBucket, READ_OPTIONS } from './bucket.js';
import type { Io } from './run.js';

export const OUTPUT_OPTIONS = {
  json: { type: 'boolean' },
  csv: { type: 'boolean' },
} as const;

/**
 * Copies the parsed objects of the bucket the options name (the local data by default) into
 * their cache through the S3 API, and opens the records database over it.
 */
export async function openRecords(values: {
  bucket?: string;
  endpoint?: string;
  region?: string;
  's3-port'?: string;
}): Promise<{ database: RecordsDatabase; cache: RecordsCache; bucket: string }> {
  const home = fanoutHome();
  const target = await openBucket(values, home);
  let cache: RecordsCache;
  try {
    const where = values.endpoint ? { endpoint: values.endpoint } : target.local ? 'local' : 'aws';
    cache = await syncRecordsCache(
      target.s3,
      target.bucket,
      cacheDirFor(home, target.bucket, where),
    );
  } finally {
    await target.close();
  }
  return { database: await openRecordsDatabase(cache.dir), cache, bucket: target.bucket };
}

/** What was read, for stderr once the command has answered (an error is one line alone). */
export function cacheLine(opened: { cache: RecordsCache; bucket: string }): string {
  const { cache } = opened;
  return `${cache.objects} parsed object${cache.objects === 1 ? '' : 's'} of bucket ${opened.bucket} (${cache.downloaded} downloaded, ${cache.removed} removed) in ${cache.dir}\n`;
}

/**
 * `fanout query "<SQL>"`: SQL over the parsed records with DuckDB. Tables: `records` (the
 * Glue table's columns), `records_latest`, `records_changes`. A table on the terminal,
 * `--json` (one object per line) or `--csv` for scripts.
 */
export async function queryCommand(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parseCommandArgs(
    'query',
    argv,
    { ...READ_OPTIONS, ...OUTPUT_OPTIONS },
    1,
  );
  const sql = positionals[0];
  if (sql === undefined || sql.trim() === '') {
    throw new UsageError(
      'query: give one SQL statement',
      'e.g. fanout query "SELECT source, count(*) FROM records_latest GROUP BY source"',
    );
  }
  if (values.json && values.csv) throw new UsageError('query: --json or --csv, not both');
  const opened = await openRecords(values);
  const { database } = opened;
  try {
    const result = await database.query(sql);
    io.stdout.write(
      values.json ? jsonLines(result) : values.csv ? csvText(result) : tableText(result),
    );
    io.stderr.write(cacheLine(opened));
  } finally {
    database.close();
  }
  return 0;
}
