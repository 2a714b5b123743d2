import { PREFIXES, parsedKeyForRaw, rawKey, rawPackKey } from '@fanout/shared';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  installMocks,
  onlyOfType,
  outputValue,
  type RecordedResource,
  registrationsSettled,
} from '../helpers/pulumi-mocks.js';

const STACK = 'Test-EU';

let resources: RecordedResource[];
let program: typeof import('../../src/index.js');

beforeAll(async () => {
  resources = await installMocks({}, STACK);
  program = await import('../../src/index.js');
  await registrationsSettled();
});

const bucketName = () => String(onlyOfType(resources, 'aws:s3/bucket:Bucket').state.bucket);
const database = () => onlyOfType(resources, 'aws:glue/catalogDatabase:CatalogDatabase');
const tables = () => resources.filter((r) => r.type === 'aws:glue/catalogTable:CatalogTable');
const table = () => {
  const [only, ...rest] = tables().filter((r) => r.inputs.tableType === 'EXTERNAL_TABLE');
  if (only === undefined || rest.length > 0) throw new Error('expected one external table');
  return only;
};
const view = (name: string) => {
  const found = tables().find((r) => r.inputs.name === name);
  if (found === undefined) throw new Error(`no view ${name}`);
  return found;
};
/** The definition Athena reads back from a view's ViewOriginalText. */
function viewDefinition(name: string): {
  originalSql: string;
  catalog: string;
  schema: string;
  columns: { name: string; type: string }[];
} {
  const text = String(view(name).inputs.viewOriginalText);
  const match = /^\/\* Presto View: ([A-Za-z0-9+/=]+) \*\/$/.exec(text);
  if (match?.[1] === undefined) throw new Error(`not a Presto view text: ${text}`);
  return JSON.parse(Buffer.from(match[1], 'base64').toString('utf8'));
}
const parameters = () => table().inputs.parameters as Record<string, string>;

interface StorageDescriptor {
  location: string;
  inputFormat: string;
  outputFormat: string;
  serDeInfo: { serializationLibrary: string; parameters: Record<string, string> };
  columns: { name: string; type: string }[];
}
const storage = () => table().inputs.storageDescriptor as StorageDescriptor;

/** A parsed line exactly as the parser writes one. */
const LINE = {
  source: 'weather',
  run: '20261129T101000Z',
  page: 0,
  fetchedAt: '2026-11-29T10:10:03.120Z',
  key: 'Oslo',
  hash: '1f38a19470abb36b',
  record: { city: 'Oslo', tempC: -3, tags: ['cold'] },
};

/** A detail page's line (a source's `follow`): two keys more, before `key`. */
const DETAIL_LINE = {
  source: 'shop.detail',
  run: '20261129T101000Z',
  page: 0,
  fetchedAt: '2026-11-29T10:10:04.480Z',
  url: 'https://shop.example/product/7',
  linkedFrom: 'https://shop.example/catalog?page=2',
  key: 'SKU-7',
  hash: '9a0c51e2b7d4f613',
  record: { sku: 'SKU-7', price: '€ 18.06' },
};

/** Glue's placeholder for the dt value (a plain string, not a JS template). */
const DT_PLACEHOLDER = `\${dt}`;

/** What Athena does with the template for one projected partition value. */
function locationOf(dt: string): string {
  return parameters()['storage.location.template']?.replaceAll(DT_PLACEHOLDER, dt) ?? '';
}

describe('Glue database and table over parsed/', () => {
  it('names the database after the stack and the table from config, and exports both', async () => {
    expect(database().inputs.name).toBe('fanout_test_eu');
    expect(table().inputs).toMatchObject({ name: 'records', databaseName: 'fanout_test_eu' });
    expect(await outputValue(program.analyticsDatabaseName)).toBe('fanout_test_eu');
    expect(await outputValue(program.analyticsTableName)).toBe('records');
  });

  it('is an external table at the parsed prefix of the pipeline bucket', () => {
    expect(table().inputs.tableType).toBe('EXTERNAL_TABLE');
    expect(parameters()).toMatchObject({ EXTERNAL: 'TRUE', classification: 'json' });
    expect(storage().location).toBe(`s3://${bucketName()}/${PREFIXES.parsed}`);
  });

  it('reads NDJSON text with the OpenX JSON SerDe, failing on malformed lines', () => {
    expect(storage()).toMatchObject({
      inputFormat: 'org.apache.hadoop.mapred.TextInputFormat',
      outputFormat: 'org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat',
    });
    expect(storage().serDeInfo.serializationLibrary).toBe('org.openx.data.jsonserde.JsonSerDe');
    expect(storage().serDeInfo.parameters['ignore.malformed.json']).toBe('FALSE');
  });

  it('has one column per field of a parsed line, record as JSON text', () => {
    expect(storage().columns.map(({ name, type }) => ({ name, type }))).toEqual([
      { name: 'source', type: 'string' },
      { name: 'run', type: 'string' },
      { name: 'page', type: 'int' },
      { name: 'fetchedat', type: 'string' },
      { name: 'key', type: 'string' },
      { name: 'hash', type: 'string' },
      { name: 'record', type: 'string' },
      { name: 'url', type: 'string' },
      { name: 'linkedfrom', type: 'string' },
    ]);
    // With case-sensitive matching, a column reads the key of its name or its mapping.
    const serde = storage().serDeInfo.parameters;
    expect(serde['case.insensitive']).toBe('FALSE');
    const keyOf = (column: string) => serde[`mapping.${column}`] ?? column;
    expect(
      storage()
        .columns.map((column) => keyOf(column.name))
        .sort(),
    ).toEqual(Object.keys(DETAIL_LINE).sort());
    // Other lines have every column but the detail page's two (null for them).
    expect(Object.keys(LINE).every((key) => key in DETAIL_LINE)).toBe(true);
  });

  it('is partitioned by dt only', () => {
    const keys = table().inputs.partitionKeys as { name: string; type: string }[];
    expect(keys.map(({ name, type }) => ({ name, type }))).toEqual([
      { name: 'dt', type: 'string' },
    ]);
  });

  it('projects dt as a daily date from the configured start to NOW', () => {
    expect(parameters()).toMatchObject({
      'projection.enabled': 'true',
      'projection.dt.type': 'date',
      'projection.dt.format': 'yyyy-MM-dd',
      'projection.dt.range': '2026-01-01,NOW',
      'projection.dt.interval': '1',
      'projection.dt.interval.unit': 'DAYS',
    });
  });

  it('has a location template with a dt placeholder that covers the keys the parser writes', () => {
    const template = parameters()['storage.location.template'];
    expect(template).toBe(`s3://${bucketName()}/parsed/dt=${DT_PLACEHOLDER}/`);
    const scheduledAt = '2026-11-29T23:50:00Z';
    const pack = rawPackKey({ runId: '20261129T235000Z', scheduledAt, batchId: 'b00001', hop: 0 });
    const single = rawKey({
      sourceId: 'weather',
      scheduledAt,
      runId: '20261129T235000Z',
      page: 2,
      extension: 'json',
    });
    for (const raw of [pack, single]) {
      const parsed = `s3://${bucketName()}/${parsedKeyForRaw(raw)}`;
      expect(parsed.startsWith(locationOf('2026-11-29')), parsed).toBe(true);
      expect(parsed.startsWith(locationOf('2026-11-30')), parsed).toBe(false);
      // Directly in the partition directory: nothing below it is a second partition level.
      expect(parsed.slice(locationOf('2026-11-29').length)).not.toContain('/');
    }
  });
});

describe('Athena views records_latest and records_changes', () => {
  const columns = [
    'source',
    'run',
    'page',
    'fetchedat',
    'key',
    'hash',
    'record',
    'url',
    'linkedfrom',
    'dt',
  ];

  it('are Glue tables of type VIRTUAL_VIEW in the same database, as Athena stores views', () => {
    for (const name of ['records_latest', 'records_changes']) {
      expect(view(name).inputs).toMatchObject({
        databaseName: 'fanout_test_eu',
        tableType: 'VIRTUAL_VIEW',
        parameters: { presto_view: 'true' },
        viewExpandedText: '/* Presto View */',
      });
      const stored = view(name).inputs.storageDescriptor as StorageDescriptor;
      expect(stored.columns.map((c) => c.name)).toEqual(columns);
      expect(viewDefinition(name)).toMatchObject({
        catalog: 'awsdatacatalog',
        schema: 'fanout_test_eu',
      });
      expect(viewDefinition(name).columns).toEqual([
        { name: 'source', type: 'varchar' },
        { name: 'run', type: 'varchar' },
        { name: 'page', type: 'integer' },
        { name: 'fetchedat', type: 'varchar' },
        { name: 'key', type: 'varchar' },
        { name: 'hash', type: 'varchar' },
        { name: 'record', type: 'varchar' },
        { name: 'url', type: 'varchar' },
        { name: 'linkedfrom', type: 'varchar' },
        { name: 'dt', type: 'varchar' },
      ]);
    }
  });

  it("keep the latest version of each (source, key) over the stack's table", () => {
    expect(viewDefinition('records_latest').originalSql).toBe(
      [
        'SELECT source, run, page, fetchedat, key, hash, record, url, linkedfrom, dt',
        'FROM (',
        '  SELECT source, run, page, fetchedat, key, hash, record, url, linkedfrom, dt,',
        '    row_number() OVER (PARTITION BY source, key ORDER BY fetchedat DESC, run DESC, page DESC, hash DESC) AS rank_in_group',
        '  FROM "fanout_test_eu"."records"',
        ') ranked',
        'WHERE rank_in_group = 1',
      ].join('\n'),
    );
  });

  it('keep each (source, key, hash) once, at its first appearance', () => {
    expect(viewDefinition('records_changes').originalSql).toBe(
      [
        'SELECT source, run, page, fetchedat, key, hash, record, url, linkedfrom, dt',
        'FROM (',
        '  SELECT source, run, page, fetchedat, key, hash, record, url, linkedfrom, dt,',
        '    row_number() OVER (PARTITION BY source, key, hash ORDER BY fetchedat ASC, run ASC, page ASC) AS rank_in_group',
        '  FROM "fanout_test_eu"."records"',
        ') ranked',
        'WHERE rank_in_group = 1',
      ].join('\n'),
    );
  });
});
