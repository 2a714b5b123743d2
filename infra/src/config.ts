import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import {
  DEPRECATED_RUNTIMES,
  type FunctionId,
  LAMBDA_MAX_MEMORY_MB,
  LAMBDA_MAX_TIMEOUT_SECONDS,
  LAMBDA_MIN_MEMORY_MB,
  type LambdaRuntime,
  parseManifestText,
  parseScheduleExpression,
  SUPPORTED_RUNTIMES,
} from '@fanout/shared';
import {
  ARCHITECTURES,
  type Architecture,
  CONFIG_KEYS,
  LAMBDA_MAX_EPHEMERAL_STORAGE_MB,
  LAMBDA_MIN_EPHEMERAL_STORAGE_MB,
  MIN_STANDARD_IA_TRANSITION_DAYS,
  overrideKey,
} from './config-keys.js';
import { InfraConfigError } from './errors.js';
import { scheduleExpressionProblem } from './schedule-expression.js';

export { CONFIG_KEYS, type ConfigKeySpec } from './config-keys.js';
export { scheduleExpressionProblem } from './schedule-expression.js';

/** Config keys live under the project name (`fanout:<key>`). */
export const CONFIG_NAMESPACE = 'fanout';

/**
 * Retention values CloudWatch Logs accepts (PutRetentionPolicy). Any other
 * number is rejected by the API at deploy time, so it is rejected here first.
 */
export const LOG_RETENTION_DAYS = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288,
  3653,
] as const;

export interface FunctionOverrides {
  readonly memoryMb: number;
  readonly timeoutSeconds: number;
  readonly reservedConcurrency: number;
  readonly ephemeralStorageMb: number;
}

export interface StackConfig {
  readonly schedule: {
    readonly expression: string;
    readonly timezone: string;
    readonly enabled: boolean;
  };
  readonly runtime: LambdaRuntime;
  readonly architecture: Architecture;
  readonly functions: { readonly [K in FunctionId]: FunctionOverrides };
  /** false: no function gets reserved concurrency (accounts with a quota of 10). */
  readonly reservedConcurrencyEnabled: boolean;
  /** Deploy index.mjs.map beside each bundle. */
  readonly sourceMaps: boolean;
  readonly logRetentionDays: number;
  readonly raw: { readonly expirationDays: number; readonly transitionDays: number };
  /** Days until objects expire; 0 keeps them. */
  readonly expirationDays: { readonly runs: number; readonly quarantine: number };
  readonly versioning: boolean;
  readonly forceDestroy: boolean;
  /** Absolute path of the validated source manifest. */
  readonly sourcesFile: string;
  /** Undefined when no alarms are deployed. */
  readonly alarmEmail: string | undefined;
  /** Customer managed key of the referenced secrets; undefined: AWS managed keys. */
  readonly secretsKmsKeyArn: string | undefined;
  readonly analytics: {
    /** Undefined: the pipeline names the database after the stack. */
    readonly databaseName: string | undefined;
    readonly tableName: string;
    /** YYYY-MM-DD, the first partition Athena projects. */
    readonly startDate: string;
  };
}

/** What the config module needs from `pulumi.Config`, so tests can pass a plain map. */
export interface ConfigReader {
  get(key: string): string | undefined;
}

export function configReaderFromRecord(values: Readonly<Record<string, string>>): ConfigReader {
  return { get: (key) => values[key] };
}

function fullKey(key: string): string {
  return `${CONFIG_NAMESPACE}:${key}`;
}

function raw(reader: ConfigReader, key: string): string {
  const spec = CONFIG_KEYS[key];
  if (spec === undefined) throw new InfraConfigError(fullKey(key), 'is not a declared key');
  return reader.get(key) ?? String(spec.default);
}

function readInteger(reader: ConfigReader, key: string, min: number, max: number): number {
  const value = raw(reader, key).trim();
  if (!/^-?\d+$/.test(value)) throw new InfraConfigError(fullKey(key), 'must be an integer', value);
  const n = Number(value);
  if (n < min || n > max) {
    throw new InfraConfigError(fullKey(key), `must be between ${min} and ${max}`, value);
  }
  return n;
}

function readBoolean(reader: ConfigReader, key: string): boolean {
  const value = raw(reader, key).trim();
  if (value === 'true') return true;
  if (value === 'false') return false;
  throw new InfraConfigError(fullKey(key), 'must be true or false', value);
}

function readOneOf<T extends string>(reader: ConfigReader, key: string, allowed: readonly T[]): T {
  const value = raw(reader, key).trim();
  const found = allowed.find((candidate) => candidate === value);
  if (found === undefined) {
    throw new InfraConfigError(fullKey(key), `must be one of ${allowed.join(', ')}`, value);
  }
  return found;
}

function readSchedule(reader: ConfigReader): string {
  const expression = raw(reader, 'schedule').trim();
  const problem = scheduleExpressionProblem(expression);
  if (problem !== undefined) throw new InfraConfigError(fullKey('schedule'), problem, expression);
  return expression;
}

function readTimezone(reader: ConfigReader): string {
  const zone = raw(reader, 'scheduleTimezone').trim();
  try {
    new Intl.DateTimeFormat('en', { timeZone: zone });
  } catch {
    throw new InfraConfigError(fullKey('scheduleTimezone'), 'must be an IANA time zone', zone);
  }
  return zone;
}

function readRuntime(reader: ConfigReader): LambdaRuntime {
  const value = raw(reader, 'runtime').trim();
  const supported = SUPPORTED_RUNTIMES.find((runtime) => runtime === value);
  if (supported !== undefined) return supported;
  const deprecated = DEPRECATED_RUNTIMES.some((runtime) => runtime === value);
  throw new InfraConfigError(
    fullKey('runtime'),
    `${deprecated ? 'is deprecated' : 'is not a supported runtime'}; use ${SUPPORTED_RUNTIMES.join(' or ')}`,
    value,
  );
}

function readRetention(reader: ConfigReader): number {
  const value = raw(reader, 'logRetentionDays').trim();
  const days = Number(value);
  if (!LOG_RETENTION_DAYS.some((allowed) => allowed === days)) {
    throw new InfraConfigError(
      fullKey('logRetentionDays'),
      `must be a value CloudWatch accepts (${LOG_RETENTION_DAYS.join(', ')})`,
      value,
    );
  }
  return days;
}

function readRawLifecycle(reader: ConfigReader): StackConfig['raw'] {
  const expirationDays = readInteger(reader, 'rawExpirationDays', 0, 36_500);
  const transitionDays = readInteger(reader, 'rawTransitionDays', 0, 36_500);
  if (transitionDays > 0 && transitionDays < MIN_STANDARD_IA_TRANSITION_DAYS) {
    throw new InfraConfigError(
      fullKey('rawTransitionDays'),
      `must be 0 or at least ${MIN_STANDARD_IA_TRANSITION_DAYS} (S3's minimum for STANDARD_IA)`,
      String(transitionDays),
    );
  }
  if (transitionDays > 0 && expirationDays > 0 && transitionDays >= expirationDays) {
    throw new InfraConfigError(
      fullKey('rawTransitionDays'),
      `must be less than fanout:rawExpirationDays (${expirationDays}), else objects expire before they move`,
      String(transitionDays),
    );
  }
  return { expirationDays, transitionDays };
}

function readFunctions(reader: ConfigReader): StackConfig['functions'] {
  const read = (id: FunctionId): FunctionOverrides => ({
    memoryMb: readInteger(
      reader,
      overrideKey(id, 'MemoryMb'),
      LAMBDA_MIN_MEMORY_MB,
      LAMBDA_MAX_MEMORY_MB,
    ),
    timeoutSeconds: readInteger(
      reader,
      overrideKey(id, 'TimeoutSeconds'),
      1,
      LAMBDA_MAX_TIMEOUT_SECONDS,
    ),
    // 0 would stop the function entirely; pausing is done with scheduleEnabled instead.
    reservedConcurrency: readInteger(reader, overrideKey(id, 'ReservedConcurrency'), 1, 10_000),
    ephemeralStorageMb: readInteger(
      reader,
      overrideKey(id, 'EphemeralStorageMb'),
      LAMBDA_MIN_EPHEMERAL_STORAGE_MB,
      LAMBDA_MAX_EPHEMERAL_STORAGE_MB,
    ),
  });
  return { manager: read('manager'), collector: read('collector'), parser: read('parser') };
}

const EMAIL_PATTERN = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

const KMS_KEY_ARN_PATTERN = /^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/[A-Za-z0-9-]+$/;

function readKmsKeyArn(reader: ConfigReader): string | undefined {
  const value = raw(reader, 'secretsKmsKeyArn').trim();
  if (value === '') return undefined;
  if (!KMS_KEY_ARN_PATTERN.test(value)) {
    throw new InfraConfigError(
      fullKey('secretsKmsKeyArn'),
      'must be a KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>) or empty',
      value,
    );
  }
  return value;
}

function readAlarmEmail(reader: ConfigReader): string | undefined {
  const value = raw(reader, 'alarmEmail').trim();
  if (value === '') return undefined;
  if (!EMAIL_PATTERN.test(value)) {
    throw new InfraConfigError(fullKey('alarmEmail'), 'must be an email address or empty', value);
  }
  return value;
}

/**
 * Athena accepts only lowercase letters, digits and underscores in database and
 * table names without quoting; Glue caps names at 255 characters.
 */
const CATALOG_NAME_PATTERN = /^[a-z0-9_]{1,255}$/;

function readCatalogName(reader: ConfigReader, key: string): string {
  const value = raw(reader, key).trim();
  if (!CATALOG_NAME_PATTERN.test(value)) {
    throw new InfraConfigError(
      fullKey(key),
      'must be 1-255 lowercase letters, digits or underscores (what Athena accepts unquoted)',
      value,
    );
  }
  return value;
}

function readDate(reader: ConfigReader, key: string): string {
  const value = raw(reader, key).trim();
  const parsed = /^\d{4}-\d{2}-\d{2}$/.test(value) ? new Date(`${value}T00:00:00Z`) : undefined;
  // Round-tripping rejects dates like 2026-02-30 that Date would roll over.
  if (
    parsed === undefined ||
    Number.isNaN(parsed.getTime()) ||
    parsed.toISOString().slice(0, 10) !== value
  ) {
    throw new InfraConfigError(fullKey(key), 'must be a calendar date as YYYY-MM-DD', value);
  }
  return value;
}

function readAnalytics(reader: ConfigReader): StackConfig['analytics'] {
  const database = raw(reader, 'analyticsDatabase').trim();
  return {
    databaseName: database === '' ? undefined : readCatalogName(reader, 'analyticsDatabase'),
    tableName: readCatalogName(reader, 'analyticsTable'),
    startDate: readDate(reader, 'analyticsStartDate'),
  };
}

/** Resolves the manifest file and refuses to deploy one the manager would reject. */
function readSourcesFile(reader: ConfigReader, projectDir: string, schedule: string): string {
  const key = fullKey('sourcesFile');
  const value = raw(reader, 'sourcesFile').trim();
  const file = path.resolve(projectDir, value);
  if (!existsSync(file)) throw new InfraConfigError(key, `file not found at ${file}`, value);
  let invalid: string[];
  try {
    // Checked against the stack's schedule: a source cadence finer than it is rejected.
    invalid = parseManifestText(readFileSync(file, 'utf8'), {
      schedule: parseScheduleExpression(schedule),
    }).invalid.flatMap((entry) => entry.errors);
  } catch (error) {
    throw new InfraConfigError(key, `is not a valid source manifest: ${String(error)}`, value);
  }
  if (invalid.length > 0) {
    throw new InfraConfigError(key, `has invalid sources: ${invalid.join('; ')}`, value);
  }
  return file;
}

export interface LoadOptions {
  /** Directory that relative paths in config are resolved against (the infra directory). */
  readonly projectDir: string;
}

/** Reads and validates the whole stack config once; the first bad value throws InfraConfigError. */
export function loadStackConfig(reader: ConfigReader, options: LoadOptions): StackConfig {
  return {
    schedule: {
      expression: readSchedule(reader),
      timezone: readTimezone(reader),
      enabled: readBoolean(reader, 'scheduleEnabled'),
    },
    runtime: readRuntime(reader),
    architecture: readOneOf(reader, 'architecture', ARCHITECTURES),
    functions: readFunctions(reader),
    reservedConcurrencyEnabled: readBoolean(reader, 'reservedConcurrencyEnabled'),
    sourceMaps: readBoolean(reader, 'sourceMaps'),
    logRetentionDays: readRetention(reader),
    raw: readRawLifecycle(reader),
    expirationDays: {
      runs: readInteger(reader, 'runsExpirationDays', 0, 36_500),
      quarantine: readInteger(reader, 'quarantineExpirationDays', 0, 36_500),
    },
    versioning: readBoolean(reader, 'versioning'),
    forceDestroy: readBoolean(reader, 'forceDestroy'),
    sourcesFile: readSourcesFile(reader, options.projectDir, readSchedule(reader)),
    alarmEmail: readAlarmEmail(reader),
    secretsKmsKeyArn: readKmsKeyArn(reader),
    analytics: readAnalytics(reader),
  };
}
