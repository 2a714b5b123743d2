import {
  RECORD_COLUMNS as RECORD_COLUMN_TYPES,
  RECORD_PARTITION_COLUMN,
  RECORD_VIEW_COLUMNS,
  RECORD_VIEWS,
  type RecordView,
  SQL_ENGINES,
} from '@fanout/shared';
import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';

/** The one partition column of parsed objects: `parsed/dt=<YYYY-MM-DD>/`. */
export const PARTITION_COLUMN = RECORD_PARTITION_COLUMN.name;
/** Java date pattern of the `dt=` values, as partition projection parses them. */
export const PARTITION_DATE_FORMAT = 'yyyy-MM-dd';
/**
 * Glue's placeholder for the partition value in `storage.location.template`. Every
 * partition column needs one, else Athena fails with INVALID_TABLE_PROPERTY.
 */
// biome-ignore lint/suspicious/noTemplateCurlyInString: Glue's placeholder syntax, not a JS template.
export const PARTITION_PLACEHOLDER = '${dt}';

export const OPENX_JSON_SERDE = 'org.openx.data.jsonserde.JsonSerDe';
export const TEXT_INPUT_FORMAT = 'org.apache.hadoop.mapred.TextInputFormat';
export const HIVE_TEXT_OUTPUT_FORMAT = 'org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat';

/**
 * One parsed record per line, as the parser writes it:
 * `{"source","run","page","fetchedAt","key","hash","record"}` (names and types from the
 * contract, which `fanout query` reads too). `record` is whatever the source returned: the
 * SerDe hands a nested value to a string column as its JSON text, so queries read into it
 * with `json_extract` / `json_extract_scalar`.
 */
export const RECORD_COLUMNS: readonly aws.types.input.glue.CatalogTableStorageDescriptorColumn[] =
  RECORD_COLUMN_TYPES.map(({ name, glueType, comment }) => ({ name, type: glueType, comment }));

/** The JSON Athena keeps in a view's `ViewOriginalText`: its SQL, where it lives, its columns. */
export interface PrestoViewDefinition {
  readonly originalSql: string;
  readonly catalog: 'awsdatacatalog';
  readonly schema: string;
  readonly columns: readonly { readonly name: string; readonly type: string }[];
}

export function prestoViewDefinition(
  view: RecordView,
  databaseName: string,
  tableName: string,
): PrestoViewDefinition {
  return {
    originalSql: view.sql(SQL_ENGINES.athena.recordsTable(databaseName, tableName)),
    catalog: 'awsdatacatalog',
    schema: databaseName,
    columns: RECORD_VIEW_COLUMNS.map(({ name, prestoType }) => ({ name, type: prestoType })),
  };
}

/**
 * `ViewOriginalText` of an Athena view in the Glue catalog: what `CREATE VIEW` in Athena
 * stores (a comment around the base64 of the definition's JSON).
 */
export function prestoViewText(definition: PrestoViewDefinition): string {
  return `/* Presto View: ${Buffer.from(JSON.stringify(definition), 'utf8').toString('base64')} */`;
}

export interface ParsedRecordsCatalogArgs {
  /** The pipeline bucket. */
  readonly bucketName: pulumi.Input<string>;
  /** Prefix the parser writes under (`parsed/`), ending in `/`. */
  readonly parsedPrefix: string;
  readonly databaseName: string;
  readonly tableName: string;
  /** First `dt` Athena projects (YYYY-MM-DD); the range runs from it to NOW. */
  readonly startDate: string;
}

/** The table parameters that make `WHERE dt = '...'` work with no crawler and no MSCK REPAIR. */
export function projectionParameters(
  bucketName: string,
  parsedPrefix: string,
  startDate: string,
): Record<string, string> {
  const column = PARTITION_COLUMN;
  return {
    // Athena computes partitions from these instead of looking them up in Glue,
    // so a day's objects are queryable the moment the parser writes them.
    'projection.enabled': 'true',
    [`projection.${column}.type`]: 'date',
    [`projection.${column}.format`]: PARTITION_DATE_FORMAT,
    [`projection.${column}.range`]: `${startDate},NOW`,
    [`projection.${column}.interval`]: '1',
    [`projection.${column}.interval.unit`]: 'DAYS',
    'storage.location.template': `s3://${bucketName}/${parsedPrefix}${column}=${PARTITION_PLACEHOLDER}/`,
  };
}

/**
 * A Glue database and an Athena-ready external table over `parsed/`: gzip NDJSON
 * (Athena recognises the `.gz` extension), one record per line, partitioned by
 * `dt` through partition projection.
 */
export class ParsedRecordsCatalog extends pulumi.ComponentResource {
  readonly database: aws.glue.CatalogDatabase;
  readonly table: aws.glue.CatalogTable;
  /** `records_latest` and `records_changes`, Athena views over the table. */
  readonly views: readonly aws.glue.CatalogTable[];
  readonly databaseName: pulumi.Output<string>;
  readonly tableName: pulumi.Output<string>;

  constructor(
    name: string,
    args: ParsedRecordsCatalogArgs,
    opts?: pulumi.ComponentResourceOptions,
  ) {
    super('fanout:analytics:ParsedRecordsCatalog', name, {}, opts);
    const parent = { parent: this };

    this.database = new aws.glue.CatalogDatabase(
      `${name}-database`,
      { name: args.databaseName, description: 'Fanout parsed records' },
      parent,
    );

    const bucket = pulumi.output(args.bucketName);
    this.table = new aws.glue.CatalogTable(
      `${name}-table`,
      {
        name: args.tableName,
        databaseName: this.database.name,
        description: `Parsed records under s3://<bucket>/${args.parsedPrefix}, one row per record`,
        tableType: 'EXTERNAL_TABLE',
        parameters: bucket.apply((b) => ({
          EXTERNAL: 'TRUE',
          classification: 'json',
          compressionType: 'gzip',
          ...projectionParameters(b, args.parsedPrefix, args.startDate),
        })),
        storageDescriptor: {
          location: pulumi.interpolate`s3://${bucket}/${args.parsedPrefix}`,
          inputFormat: TEXT_INPUT_FORMAT,
          outputFormat: HIVE_TEXT_OUTPUT_FORMAT,
          serDeInfo: {
            name: 'openx-json',
            serializationLibrary: OPENX_JSON_SERDE,
            parameters: {
              // The parser is the only writer and emits one JSON.stringify per line, so a
              // malformed line means a corrupt object: the query should fail and name it
              // rather than silently count fewer records.
              'ignore.malformed.json': 'FALSE',
              // Keys are matched as written (no lowercasing), so `record`'s JSON text keeps
              // the source's key case for json_extract paths; the mixed-case top-level keys
              // are mapped explicitly.
              'case.insensitive': 'FALSE',
              'mapping.fetchedat': 'fetchedAt',
              'mapping.linkedfrom': 'linkedFrom',
            },
          },
          columns: [...RECORD_COLUMNS],
        },
        partitionKeys: [
          { name: PARTITION_COLUMN, type: 'string', comment: 'UTC date of the scheduled run' },
        ],
      },
      parent,
    );

    // Athena views are Glue tables of type VIRTUAL_VIEW with their definition in
    // ViewOriginalText; made here, they exist right after `pulumi up` like the table.
    this.views = RECORD_VIEWS.map(
      (view) =>
        new aws.glue.CatalogTable(
          `${name}-${view.name.replaceAll('_', '-')}`,
          {
            name: view.name,
            databaseName: this.database.name,
            description: view.description,
            tableType: 'VIRTUAL_VIEW',
            parameters: { presto_view: 'true', comment: 'Presto View' },
            viewOriginalText: this.table.name.apply((table) =>
              prestoViewText(prestoViewDefinition(view, args.databaseName, table)),
            ),
            viewExpandedText: '/* Presto View */',
            storageDescriptor: {
              serDeInfo: { name: '-', serializationLibrary: '-' },
              columns: RECORD_VIEW_COLUMNS.map(({ name, glueType, comment }) => ({
                name,
                type: glueType,
                comment,
              })),
            },
          },
          { parent: this, dependsOn: [this.table] },
        ),
    );

    this.databaseName = this.database.name;
    this.tableName = this.table.name;
    this.registerOutputs({ databaseName: this.databaseName, tableName: this.tableName });
  }
}
