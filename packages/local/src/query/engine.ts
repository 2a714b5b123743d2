import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { DuckDBConnection, DuckDBInstance, DuckDBType } from '@duckdb/node-api';
import { PREFIXES, RECORD_COLUMNS, RECORD_VIEWS, SQL_ENGINES } from '@fanout/shared';
import { LocalCloudError } from '../errors.js';

/** A query that DuckDB refused: the message is DuckDB's, the hint names the tables. */
export class QueryError extends LocalCloudError {
  override name = 'QueryError';
}

/** One result: column names and types, and rows of values as `getRowsJson` gives them. */
export interface QueryResult {
  readonly columns: readonly string[];
  readonly types: readonly ColumnType[];
  readonly rows: readonly (readonly unknown[])[];
}

/** What the output needs to know of a column's type. */
export interface ColumnType {
  readonly name: string;
  /** JSON text (the `record` column): written into JSON output as JSON, not as a string. */
  readonly json: boolean;
  /** A number DuckDB hands over as text to keep it exact (BIGINT, HUGEINT, DECIMAL). */
  readonly exactNumber: boolean;
}

const EXACT_NUMBER =
  /^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|UHUGEINT|DECIMAL)/;

function columnType(type: DuckDBType): ColumnType {
  const name = String(type);
  return { name, json: type.alias === 'JSON', exactNumber: EXACT_NUMBER.test(name) };
}

const sqlString = (text: string) => `'${text.replaceAll("'", "''")}'`;

/**
 * DuckDB's message on one line, as the CLI prints errors: its first line, and the `LINE n:`
 * excerpt it adds below (the caret line under it is left out).
 */
function oneLine(message: string): string {
  const lines = message.split('\n').map((line) => line.trim());
  const excerpt = lines.find((line) => /^LINE \d+:/.test(line));
  return excerpt === undefined ? (lines[0] ?? message) : `${lines[0]} (${excerpt})`;
}

async function hasParsedObjects(dir: string): Promise<boolean> {
  try {
    const entries = await readdir(join(dir, PREFIXES.parsed), { recursive: true });
    return entries.some((entry) => entry.endsWith('.ndjson.gz'));
  } catch {
    return false;
  }
}

/**
 * The `records` table over the parsed objects in `dir` (the bucket's layout). Each line is
 * read as text (a tab never occurs in one: records are compact JSON, whose strings escape
 * control characters), its columns taken with DuckDB's JSON functions, and `record` cut
 * from the line as stored (after `"record":`, before the closing `}`), so it is the source's
 * value byte for byte; reading it as JSON would rewrite `-0` as `0` and decode escapes.
 */
export function recordsTableSql(dir: string, hasObjects: boolean): string {
  if (!hasObjects) {
    // No parsed object yet: the same columns, no rows, so queries still run.
    const columns = RECORD_COLUMNS.map(
      (c) =>
        `CAST(NULL AS ${c.name === 'page' ? 'INTEGER' : c.name === 'record' ? 'JSON' : 'VARCHAR'}) AS ${c.name}`,
    );
    return `SELECT ${columns.join(', ')}, CAST(NULL AS VARCHAR) AS dt WHERE false`;
  }
  const glob = sqlString(join(dir, PREFIXES.parsed, '**', '*.ndjson.gz'));
  const marker = `strpos(line, '"record":')`;
  return [
    'SELECT',
    '  v[1] AS source, v[2] AS run, CAST(v[3] AS INTEGER) AS page, v[4] AS fetchedat,',
    '  v[5] AS key, v[6] AS hash,',
    `  CAST(substr(line, ${marker} + 9, length(line) - ${marker} - 9) AS JSON) AS record,`,
    '  v[7] AS url, v[8] AS linkedfrom,',
    '  dt',
    'FROM (',
    "  SELECT line, dt, json_extract_string(line, ['$.source', '$.run', '$.page', '$.fetchedAt', '$.key', '$.hash', '$.url', '$.linkedFrom']) AS v",
    `  FROM read_csv(${glob}, columns = {'line': 'VARCHAR'}, delim = '\\t', quote = '', escape = '',`,
    "    header = false, auto_detect = false, hive_partitioning = true, hive_types = {'dt': 'VARCHAR'})",
    ')',
  ].join('\n');
}

/**
 * A DuckDB database (in memory) over the cache in `dir`: the `records` view with the Glue
 * table's column names, `records_latest` and `records_changes` with the very SQL the Pulumi
 * program gives Athena, and `json_extract_scalar` (Athena's name) as a macro.
 */
export async function openRecordsDatabase(dir: string): Promise<RecordsDatabase> {
  // Loaded here, not at startup: only `query` and `records` need DuckDB's native library.
  const { DuckDBInstance } = await import('@duckdb/node-api');
  const instance = await DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  const database = new RecordsDatabase(instance, connection);
  try {
    const table = SQL_ENGINES.duckdb.recordsTable();
    await connection.run(
      `CREATE VIEW ${table} AS ${recordsTableSql(dir, await hasParsedObjects(dir))}`,
    );
    for (const view of RECORD_VIEWS) {
      await connection.run(`CREATE VIEW ${view.name} AS ${view.sql(table)}`);
    }
    await connection.run(
      `CREATE MACRO ${SQL_ENGINES.athena.jsonScalar}(value, path) AS ${SQL_ENGINES.duckdb.jsonScalar}(value, path)`,
    );
  } catch (error) {
    database.close();
    throw error;
  }
  return database;
}

export class RecordsDatabase {
  constructor(
    private readonly instance: DuckDBInstance,
    readonly connection: DuckDBConnection,
  ) {}

  /** Runs one statement; `params` bind `$1`, `$2`, … as text. */
  async query(sql: string, params: readonly string[] = []): Promise<QueryResult> {
    try {
      const prepared = await this.connection.prepare(sql);
      params.forEach((value, i) => {
        prepared.bindVarchar(i + 1, value);
      });
      const reader = await prepared.runAndReadAll();
      return {
        columns: reader.columnNames(),
        types: reader.columnTypes().map(columnType),
        rows: reader.getRowsJson(),
      };
    } catch (error) {
      if (error instanceof Error && !(error instanceof LocalCloudError)) {
        throw new QueryError(
          oneLine(error.message),
          'tables: records, records_latest, records_changes (columns source, run, page, fetchedat, key, hash, record, url, linkedfrom, dt)',
          { cause: error },
        );
      }
      throw error;
    }
  }

  close(): void {
    this.connection.closeSync();
    this.instance.closeSync();
  }
}
