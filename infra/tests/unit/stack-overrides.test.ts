import { ENV, topology } from '@fanout/shared';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  installMocks,
  ofType,
  onlyOfType,
  type RecordedResource,
  registrationsSettled,
} from '../helpers/pulumi-mocks.js';

const overrides = {
  schedule: 'cron(0 6 ? * MON-FRI *)',
  scheduleTimezone: 'Europe/Berlin',
  scheduleEnabled: 'false',
  runtime: 'nodejs24.x',
  architecture: 'x86_64',
  collectorTimeoutSeconds: '600',
  managerMemoryMb: '1024',
  rawExpirationDays: '0',
  runsExpirationDays: '0',
  quarantineExpirationDays: '7',
  reservedConcurrencyEnabled: 'false',
  sourceMaps: 'true',
  parserEphemeralStorageMb: '2048',
  forceDestroy: 'true',
  analyticsDatabase: 'lake',
  analyticsTable: 'fanout_records',
  analyticsStartDate: '2025-06-01',
};

let resources: RecordedResource[];

beforeAll(async () => {
  resources = await installMocks(overrides, 'staging');
  await import('../../src/index.js');
  await registrationsSettled();
});

function named(name: string): RecordedResource {
  const found = resources.find((resource) => resource.name === name);
  if (!found) throw new Error(`no resource named ${name}`);
  return found;
}

describe('per-stack overrides', () => {
  it('switch runtime and architecture of every function', () => {
    const functions = ofType(resources, 'aws:lambda/function:Function');
    expect(functions).toHaveLength(3);
    for (const fn of functions) {
      expect(fn.inputs).toMatchObject({ runtime: 'nodejs24.x', architectures: ['x86_64'] });
    }
  });

  it('change one function and what the others are told about it', () => {
    expect(named('fanout-manager-function').inputs.memorySize).toBe(1024);
    expect(named('fanout-collector-function').inputs.timeout).toBe(600);
    const env = (
      named('fanout-manager-function').inputs.environment as {
        variables: Record<string, string>;
      }
    ).variables;
    expect(env[ENV.collectorTimeoutMs]).toBe('600000');
  });

  it('set a paused cron schedule in a time zone', () => {
    expect(onlyOfType(resources, 'aws:scheduler/schedule:Schedule').inputs).toMatchObject({
      scheduleExpression: overrides.schedule,
      scheduleExpressionTimezone: 'Europe/Berlin',
      state: 'DISABLED',
    });
  });

  it('keep raw objects and run records when expiry is 0, and allow destroying a full bucket', () => {
    const rules = onlyOfType(
      resources,
      'aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration',
    ).inputs.rules as Record<string, unknown>[];
    expect(rules.filter((rule) => rule.expiration !== undefined)).toEqual([
      {
        id: 'expire-quarantine',
        status: 'Enabled',
        filter: { prefix: 'quarantine/' },
        expiration: { days: 7 },
      },
    ]);
    expect(onlyOfType(resources, 'aws:s3/bucket:Bucket').inputs.forceDestroy).toBe(true);
  });
});

describe('small-account and debugging overrides', () => {
  it('deploy no reserved concurrency, while the manager still bounds collector fan-out', () => {
    for (const fn of ofType(resources, 'aws:lambda/function:Function')) {
      // -1 is Lambda's "unreserved"; an existing reservation is removed, not kept.
      expect(fn.inputs.reservedConcurrentExecutions, fn.name).toBe(-1);
    }
    const env = (
      named('fanout-manager-function').inputs.environment as {
        variables: Record<string, string>;
      }
    ).variables;
    expect(env[ENV.collectorMaxParallel]).toBe(
      String(topology.functions.collector.reservedConcurrency),
    );
  });

  it('ship the source map beside each bundle', async () => {
    for (const fn of ofType(resources, 'aws:lambda/function:Function')) {
      const code = fn.inputs.code as { assets: Promise<Record<string, unknown>> };
      const names = Object.keys(await code.assets);
      expect(names.filter((name) => !name.startsWith('chunks/')).sort(), fn.name).toEqual([
        'index.mjs',
        'index.mjs.map',
      ]);
      // Each chunk ships with its map too.
      for (const chunk of names.filter((name) => /^chunks\/.*\.mjs$/.test(name))) {
        expect(names, fn.name).toContain(`${chunk}.map`);
      }
    }
  });

  it('size one function’s /tmp', () => {
    expect(named('fanout-parser-function').inputs.ephemeralStorage).toEqual({ size: 2048 });
    expect(named('fanout-manager-function').inputs.ephemeralStorage).toEqual({
      size: topology.functions.manager.ephemeralStorageMb,
    });
  });
});

describe('analytics overrides', () => {
  it('name the Glue database and table and move the projection start', () => {
    const tables = resources.filter((r) => r.type === 'aws:glue/catalogTable:CatalogTable');
    const [table] = tables
      .filter((r) => r.inputs.tableType === 'EXTERNAL_TABLE')
      .map((r) => r.inputs);
    if (table === undefined) throw new Error('no external table');
    // The views read the overridden table of the overridden database.
    for (const view of tables.filter((r) => r.inputs.tableType === 'VIRTUAL_VIEW')) {
      const text = String(view.inputs.viewOriginalText);
      const encoded = text.slice('/* Presto View: '.length, -' */'.length);
      const definition = JSON.parse(Buffer.from(encoded, 'base64').toString('utf8'));
      expect(definition.schema).toBe('lake');
      expect(definition.originalSql).toContain('FROM "lake"."fanout_records"');
    }
    expect(onlyOfType(resources, 'aws:glue/catalogDatabase:CatalogDatabase').inputs.name).toBe(
      'lake',
    );
    expect(table).toMatchObject({ name: 'fanout_records', databaseName: 'lake' });
    expect((table.parameters as Record<string, string>)['projection.dt.range']).toBe(
      '2025-06-01,NOW',
    );
  });
});
