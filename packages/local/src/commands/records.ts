import { RunIdSchema } from '@fanout/shared';
import { UsageError } from '../errors.js';
import { jsonLines } from '../query/output.js';
import { intOption, parseCommandArgs } from './args.js';
import { READ_OPTIONS } from './bucket.js';
import { cacheLine, openRecords } from './query.js';
import type { Io } from './run.js';

const DEFAULT_LIMIT = 20;

/**
 * `fanout records <source> [--run R] [--limit N]`: the records a source gave in one run (its
 * latest by default), each as its exact JSON on a line; `--json` adds key, hash, page and
 * fetch time around each.
 */
export async function recordsCommand(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parseCommandArgs(
    'records',
    argv,
    {
      ...READ_OPTIONS,
      run: { type: 'string' },
      limit: { type: 'string' },
      json: { type: 'boolean' },
    },
    1,
  );
  const source = positionals[0];
  if (source === undefined) {
    throw new UsageError(
      'records: name a source',
      'e.g. fanout records demo-json (see: fanout query "SELECT DISTINCT source FROM records")',
    );
  }
  const limit = intOption('limit', values.limit, DEFAULT_LIMIT);
  if (values.run !== undefined && !RunIdSchema.safeParse(values.run).success) {
    throw new UsageError(
      `records: invalid run id ${JSON.stringify(values.run)}`,
      'a run id as fanout runs lists them, e.g. 20261206T100000Z',
    );
  }
  const opened = await openRecords(values);
  const { database } = opened;
  try {
    const latest = await database.query(
      'SELECT run FROM records WHERE source = $1 ORDER BY fetchedat DESC, run DESC LIMIT 1',
      [source],
    );
    if (latest.rows.length === 0) {
      const known = await database.query('SELECT DISTINCT source FROM records ORDER BY source');
      const names = known.rows.map((row) => String(row[0]));
      throw new UsageError(
        `records: no records of source ${JSON.stringify(source)}`,
        names.length === 0
          ? 'no parsed records yet: run a cycle first (fanout run)'
          : `sources with records: ${names.slice(0, 20).join(', ')}${names.length > 20 ? ', …' : ''}`,
      );
    }
    const run = values.run ?? String(latest.rows[0]?.[0]);
    const count = await database.query(
      'SELECT count(*) FROM records WHERE source = $1 AND run = $2',
      [source, run],
    );
    const total = Number(count.rows[0]?.[0] ?? 0);
    if (total === 0) {
      throw new UsageError(
        `records: source ${JSON.stringify(source)} has no records in run ${JSON.stringify(run)}`,
        'leave out --run for its latest run',
      );
    }
    const rows = await database.query(
      `SELECT page, fetchedat, key, hash, record FROM records WHERE source = $1 AND run = $2 LIMIT ${limit}`,
      [source, run],
    );
    io.stderr.write(
      `${cacheLine(opened)}source ${source}, run ${run}: ${total} record${total === 1 ? '' : 's'}, showing ${rows.rows.length}\n`,
    );
    if (values.json) {
      io.stdout.write(jsonLines(rows));
    } else {
      for (const row of rows.rows) io.stdout.write(`${String(row[4])}\n`);
    }
  } finally {
    database.close();
  }
  return 0;
}
