/**
 * The parsed records as a table, and the two views over it, defined once for both SQL engines
 * that read them: Athena (Trino SQL, the Glue table and views the Pulumi program creates) and
 * DuckDB (`fanout query` on this machine). Column names, types and the view SQL come from
 * here; what differs between the engines is said in SQL_ENGINES.
 */

/** A column of the records table, with its type in each catalog that declares it. */
export interface RecordColumn {
  readonly name: string;
  /** Hive type, as the Glue table declares it. */
  readonly glueType: string;
  /** Presto/Trino type, as an Athena view's column list declares it. */
  readonly prestoType: string;
  readonly comment: string;
}

/**
 * The columns of every parsed line (`dt`, the partition, comes last). Glue lowercases
 * names, so `fetchedAt` on the line is `fetchedat` here, in both engines.
 */
export const RECORD_COLUMNS: readonly RecordColumn[] = [
  {
    name: 'source',
    glueType: 'string',
    prestoType: 'varchar',
    comment: 'Source id from the source manifest',
  },
  {
    name: 'run',
    glueType: 'string',
    prestoType: 'varchar',
    comment: 'Run id (derived from the scheduled time)',
  },
  {
    name: 'page',
    glueType: 'int',
    prestoType: 'integer',
    comment: 'Response page, 0 for the first',
  },
  {
    name: 'fetchedat',
    glueType: 'string',
    prestoType: 'varchar',
    comment: 'ISO time the page was fetched',
  },
  {
    name: 'key',
    glueType: 'string',
    prestoType: 'varchar',
    comment: "The record's identity: its source's key fields, or its hash when none is declared",
  },
  {
    name: 'hash',
    glueType: 'string',
    prestoType: 'varchar',
    comment: 'First 16 hex digits of the SHA-256 of the record as stored',
  },
  {
    name: 'record',
    glueType: 'string',
    prestoType: 'varchar',
    comment: 'The record as JSON text: use json_extract',
  },
  {
    name: 'url',
    glueType: 'string',
    prestoType: 'varchar',
    comment: "A detail page's URL (records of a source's follow links; null for others)",
  },
  {
    name: 'linkedfrom',
    glueType: 'string',
    prestoType: 'varchar',
    comment: 'The URL of the page whose link led to the detail page (null for others)',
  },
];

/** The partition column: the UTC date of the scheduled run (`parsed/dt=YYYY-MM-DD/`). */
export const RECORD_PARTITION_COLUMN: RecordColumn = {
  name: 'dt',
  glueType: 'string',
  prestoType: 'varchar',
  comment: 'UTC date of the scheduled run',
};

/** Every column a view returns, in order: the table's and the partition. */
export const RECORD_VIEW_COLUMNS: readonly RecordColumn[] = [
  ...RECORD_COLUMNS,
  RECORD_PARTITION_COLUMN,
];

export type RecordViewName = 'records_latest' | 'records_changes';

export interface RecordView {
  readonly name: RecordViewName;
  readonly description: string;
  /** The view's SQL over `recordsTable` (a table reference as the engine writes it). */
  sql(recordsTable: string): string;
}

const columnList = RECORD_VIEW_COLUMNS.map((column) => column.name).join(', ');

/**
 * Rows of `recordsTable` numbered within `partition` in `order`, and the first of each kept.
 * Window functions and this shape are the same in Trino and DuckDB.
 */
function firstOfEach(recordsTable: string, partition: string, order: string): string {
  return [
    `SELECT ${columnList}`,
    'FROM (',
    `  SELECT ${columnList},`,
    `    row_number() OVER (PARTITION BY ${partition} ORDER BY ${order}) AS rank_in_group`,
    `  FROM ${recordsTable}`,
    ') ranked',
    'WHERE rank_in_group = 1',
  ].join('\n');
}

export const RECORD_VIEWS: readonly RecordView[] = [
  {
    name: 'records_latest',
    description:
      'The latest version of each record: one row per (source, key), from the last fetch that returned it',
    // Ties (one fetch returning a key twice) go to the greater hash, so the answer is stable.
    sql: (table) =>
      firstOfEach(table, 'source, key', 'fetchedat DESC, run DESC, page DESC, hash DESC'),
  },
  {
    name: 'records_changes',
    description:
      'Each version of each record once, at its first appearance: one row per (source, key, hash)',
    sql: (table) => firstOfEach(table, 'source, key, hash', 'fetchedat ASC, run ASC, page ASC'),
  },
];

/**
 * What differs between the engines. The view SQL above is shared; each engine names the
 * records table its own way and has its own JSON functions (Athena's `json_extract_scalar`
 * is DuckDB's `json_extract_string`; `fanout query` defines the former as a macro over the
 * latter, so the README's Athena queries run on this machine as written).
 */
export const SQL_ENGINES = {
  athena: {
    recordsTable: (database: string, table: string) => `"${database}"."${table}"`,
    jsonScalar: 'json_extract_scalar',
  },
  duckdb: {
    recordsTable: () => 'records',
    jsonScalar: 'json_extract_string',
  },
} as const;
