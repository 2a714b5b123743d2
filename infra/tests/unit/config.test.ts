import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { topology } from '@fanout/shared';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import {
  CONFIG_KEYS,
  configReaderFromRecord,
  loadStackConfig,
  scheduleExpressionProblem,
} from '../../src/config.js';
import { InfraConfigError } from '../../src/errors.js';
import { stackValues } from '../helpers/stack-files.js';

const PROJECT_DIR = path.resolve(__dirname, '..', '..');

function load(values: Record<string, string> = {}) {
  return loadStackConfig(configReaderFromRecord(values), { projectDir: PROJECT_DIR });
}

function failure(values: Record<string, string>): InfraConfigError {
  try {
    load(values);
  } catch (error) {
    if (error instanceof InfraConfigError) return error;
    throw error;
  }
  throw new Error(`config ${JSON.stringify(values)} was accepted`);
}

interface ProjectFile {
  name: string;
  runtime: { name: string; options?: Record<string, unknown> };
  main: string;
  config: Record<string, { type: string; default: unknown; description: string }>;
}

function readYaml<T>(file: string): T {
  return parse(readFileSync(path.join(PROJECT_DIR, file), 'utf8')) as T;
}

describe('defaults', () => {
  it('deploy the shared topology unchanged', () => {
    const config = load();
    expect(config.schedule).toEqual({
      expression: topology.schedule.expression,
      timezone: 'UTC',
      enabled: true,
    });
    expect(config.runtime).toBe(topology.functions.collector.runtime);
    expect(config.architecture).toBe('arm64');
    expect(config.functions.collector).toEqual({
      memoryMb: topology.functions.collector.memoryMb,
      timeoutSeconds: topology.functions.collector.timeoutSeconds,
      reservedConcurrency: topology.functions.collector.reservedConcurrency,
      ephemeralStorageMb: topology.functions.collector.ephemeralStorageMb,
    });
    expect(config.reservedConcurrencyEnabled).toBe(true);
    expect(config.sourceMaps).toBe(false);
    expect(config.expirationDays).toEqual({ runs: 90, quarantine: 30 });
    expect(config.alarmEmail).toBeUndefined();
    expect(config.analytics).toEqual({
      databaseName: undefined,
      tableName: 'records',
      startDate: '2026-01-01',
    });
    expect(config.sourcesFile).toBe(path.join(PROJECT_DIR, 'sources.json'));
  });
});

describe('Pulumi.yaml', () => {
  const project = readYaml<ProjectFile>('Pulumi.yaml');

  it('runs the built program with the nodejs runtime', () => {
    expect(project.name).toBe('fanout');
    expect(project.runtime.name).toBe('nodejs');
    expect(project.main).toBe('dist/index.js');
    const pkg = JSON.parse(readFileSync(path.join(PROJECT_DIR, 'package.json'), 'utf8')) as {
      scripts: { build: string };
    };
    expect(pkg.scripts.build).toContain(`--outfile=${project.main}`);
  });

  it('declares every key the program reads, with its type, default and a description', () => {
    expect(Object.keys(project.config).sort()).toEqual(Object.keys(CONFIG_KEYS).sort());
    for (const [key, spec] of Object.entries(CONFIG_KEYS)) {
      const declared = project.config[key];
      expect(declared?.type, key).toBe(spec.type);
      expect(declared?.default, key).toEqual(spec.default);
      expect(declared?.description.length, key).toBeGreaterThan(10);
    }
  });
});

describe('example stacks', () => {
  const dev = stackValues('Pulumi.dev.yaml');
  const prod = stackValues('Pulumi.prod.yaml');

  it('set only declared keys, to valid values', () => {
    for (const values of [dev, prod]) {
      for (const key of Object.keys(values)) expect(Object.keys(CONFIG_KEYS)).toContain(key);
      expect(() => load(values)).not.toThrow();
    }
  });

  it('differ where environments should: schedule, retention, memory and alarms', () => {
    const devConfig = load(dev);
    const prodConfig = load(prod);
    expect(devConfig.schedule.expression).not.toBe(prodConfig.schedule.expression);
    expect(devConfig.logRetentionDays).toBeLessThan(prodConfig.logRetentionDays);
    expect(devConfig.functions.collector.memoryMb).toBeLessThan(
      prodConfig.functions.collector.memoryMb,
    );
    expect(devConfig.alarmEmail).toBeUndefined();
    expect(prodConfig.alarmEmail).toEqual(expect.stringContaining('@'));
    expect(devConfig.forceDestroy).toBe(true);
    expect(prodConfig.forceDestroy).toBe(false);
  });
});

describe('bad values fail with a message naming the key', () => {
  it.each([
    ['schedule', 'rate(1 minutes)', 'singular unit'],
    ['schedule', 'rate(5 minute)', 'plural unit'],
    ['schedule', 'rate(0 minutes)', 'at least 1'],
    ['schedule', 'every 10 minutes', 'rate(...) or cron(...)'],
    ['schedule', 'cron(0/10 * * * *)', 'six fields'],
    ['schedule', 'cron(0/10 * * * * *)', 'exactly one of day-of-month and day-of-week'],
    ['schedule', 'cron(0/10 * ? * ? *)', 'exactly one of day-of-month and day-of-week'],
    ['scheduleTimezone', 'Mars/Olympus', 'IANA time zone'],
    ['scheduleEnabled', 'yes', 'true or false'],
    ['runtime', 'nodejs20.x', 'deprecated'],
    ['runtime', 'python3.13', 'not a supported runtime'],
    ['architecture', 'arm', 'arm64, x86_64'],
    ['collectorMemoryMb', '64', 'between 128 and 10240'],
    ['managerMemoryMb', '20000', 'between 128 and 10240'],
    ['parserTimeoutSeconds', '901', 'between 1 and 900'],
    ['collectorTimeoutSeconds', '10.5', 'integer'],
    ['collectorReservedConcurrency', '0', 'between 1'],
    ['collectorEphemeralStorageMb', '256', 'between 512 and 10240'],
    ['parserEphemeralStorageMb', '20000', 'between 512 and 10240'],
    ['reservedConcurrencyEnabled', 'no', 'true or false'],
    ['sourceMaps', '1', 'true or false'],
    ['runsExpirationDays', '-1', 'between 0'],
    ['quarantineExpirationDays', 'month', 'integer'],
    ['logRetentionDays', '10', 'value CloudWatch accepts'],
    ['rawTransitionDays', '10', 'at least 30'],
    ['alarmEmail', 'ops-at-example', 'email address'],
    ['secretsKmsKeyArn', 'alias/aws/ssm', 'KMS key ARN'],
    ['sourcesFile', 'missing.json', 'file not found'],
    ['analyticsDatabase', 'Fanout-Prod', 'lowercase letters, digits or underscores'],
    ['analyticsTable', 'parsed records', 'lowercase letters, digits or underscores'],
    ['analyticsTable', '', 'lowercase letters, digits or underscores'],
    ['analyticsStartDate', '2026-02-30', 'YYYY-MM-DD'],
    ['analyticsStartDate', '2026/01/01', 'YYYY-MM-DD'],
  ])('%s = %s', (key, value, problem) => {
    const error = failure({ [key]: value });
    expect(error.key).toBe(`fanout:${key}`);
    expect(error.message).toContain(`fanout:${key}`);
    expect(error.message).toContain(problem);
    expect(error.message).toContain(JSON.stringify(value));
  });

  it('rejects a transition that comes after expiry', () => {
    const error = failure({ rawExpirationDays: '30', rawTransitionDays: '60' });
    expect(error.message).toContain('fanout:rawTransitionDays');
    expect(error.message).toContain('fanout:rawExpirationDays');
  });

  it('rejects a manifest with a literal credential, saying how to reference a secret', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'fanout-infra-'));
    const file = path.join(dir, 'sources.json');
    const source = { id: 'a', url: 'https://x.example/', format: 'json' };
    writeFileSync(
      file,
      JSON.stringify({ sources: [{ ...source, headers: { Authorization: 'Bearer t0k3n' } }] }),
    );
    const error = failure({ sourcesFile: file });
    expect(error.message).toContain('sources[0].headers.Authorization: literal credential');
    expect(error.message).toContain('{"secret": "ssm:');
  });

  it('rejects a source manifest the manager would reject, naming the bad field', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'fanout-infra-'));
    const file = path.join(dir, 'sources.json');
    writeFileSync(file, JSON.stringify({ sources: [{ id: 'a', url: 'ftp://x', format: 'json' }] }));
    const error = failure({ sourcesFile: file });
    expect(error.message).toContain('fanout:sourcesFile');
    expect(error.message).toContain('url');
    writeFileSync(file, '{ not json');
    expect(failure({ sourcesFile: file }).message).toContain('not a valid source manifest');
  });
});

describe('schedule expressions', () => {
  it.each([
    'rate(1 minute)',
    'rate(10 minutes)',
    'rate(1 hour)',
    'rate(12 hours)',
    'rate(1 day)',
    'cron(0/10 * * * ? *)',
    'cron(0 8 ? * MON-FRI *)',
    'cron(15 10 L * ? 2027)',
  ])('accepts %s', (expression) => {
    expect(scheduleExpressionProblem(expression)).toBeUndefined();
  });

  it.each([
    'rate(10 seconds)',
    'rate(-1 minutes)',
    'cron(0/10 * * * ? * *)',
    'cron(0/10 * * * ? *',
    'at(2027-01-01T00:00:00)',
    'cron(0 8 $ * ? *)',
  ])('rejects %s', (expression) => {
    expect(scheduleExpressionProblem(expression)).toEqual(expect.any(String));
  });
});
