import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import {
  DEPRECATED_RUNTIMES,
  FUNCTION_IDS,
  type FunctionId,
  LAMBDA_MAX_MEMORY_MB,
  LAMBDA_MAX_TIMEOUT_SECONDS,
  LAMBDA_MIN_MEMORY_MB,
  type LambdaRuntime,
  parseManifestText,
  SUPPORTED_RUNTIMES,
  topology,
} from '@fanout/shared';
import { InfraConfigError } from './errors.js';

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

/** S3 refuses lifecycle transitions to STANDARD_IA earlier than 30 days after creation. */
export const MIN_STANDARD_IA_TRANSITION_DAYS = 30;

export const ARCHITECTURES = ['arm64', 'x86_64'] as const;
export type Architecture = (typeof ARCHITECTURES)[number];

type KeyType = 'string' | 'integer' | 'boolean';

export interface ConfigKeySpec {
  readonly type: KeyType;
  readonly default: string | number | boolean;
  readonly description: string;
}

const OVERRIDE_KEYS = ['MemoryMb', 'TimeoutSeconds', 'ReservedConcurrency'] as const;
type OverrideKey = (typeof OVERRIDE_KEYS)[number];

function overrideKey(id: FunctionId, suffix: OverrideKey): string {
  return `${id}${suffix}`;
}

function functionKeySpecs(): Record<string, ConfigKeySpec> {
  const specs: Record<string, ConfigKeySpec> = {};
  for (const id of FUNCTION_IDS) {
    const fn = topology.functions[id];
    specs[overrideKey(id, 'MemoryMb')] = {
      type: 'integer',
      default: fn.memoryMb,
      description: `Memory of the ${id} function in MB (${LAMBDA_MIN_MEMORY_MB}-${LAMBDA_MAX_MEMORY_MB}); CPU scales with it.`,
    };
    specs[overrideKey(id, 'TimeoutSeconds')] = {
      type: 'integer',
      default: fn.timeoutSeconds,
      description: `Timeout of the ${id} function in seconds (1-${LAMBDA_MAX_TIMEOUT_SECONDS}).`,
    };
    specs[overrideKey(id, 'ReservedConcurrency')] = {
      type: 'integer',
      default: fn.reservedConcurrency,
      description: `Reserved concurrency of the ${id} function: the most instances that run at once.`,
    };
  }
  return specs;
}

/**
 * Every stack config key with its default. Pulumi.yaml declares the same keys
 * and defaults (a unit test keeps them equal); the defaults here apply when the
 * program runs without the CLI (unit tests).
 */
export const CONFIG_KEYS: Readonly<Record<string, ConfigKeySpec>> = {
  schedule: {
    type: 'string',
    default: topology.schedule.expression,
    description:
      'EventBridge Scheduler expression that starts a run: rate(N minutes|hours|days) or a six-field cron(...).',
  },
  scheduleTimezone: {
    type: 'string',
    default: 'UTC',
    description: 'IANA time zone the cron expression is evaluated in.',
  },
  scheduleEnabled: {
    type: 'boolean',
    default: true,
    description: 'false keeps the schedule deployed but paused.',
  },
  runtime: {
    type: 'string',
    default: topology.functions.manager.runtime,
    description: `Lambda runtime of all three functions: ${SUPPORTED_RUNTIMES.join(' or ')}.`,
  },
  architecture: {
    type: 'string',
    default: topology.functions.manager.architecture,
    description: 'Instruction set of all three functions: arm64 (about 20% cheaper) or x86_64.',
  },
  ...functionKeySpecs(),
  logRetentionDays: {
    type: 'integer',
    default: 14,
    description:
      'Days CloudWatch keeps function logs (a value CloudWatch accepts: 1, 3, 5, 7, 14, 30, ...).',
  },
  rawExpirationDays: {
    type: 'integer',
    default: 30,
    description: 'Days after which raw responses under raw/ are deleted; 0 keeps them forever.',
  },
  rawTransitionDays: {
    type: 'integer',
    default: 0,
    description: `Days after which raw responses move to STANDARD_IA (>= ${MIN_STANDARD_IA_TRANSITION_DAYS}); 0 never moves them.`,
  },
  versioning: {
    type: 'boolean',
    default: false,
    description:
      'Keep old versions of overwritten objects (noncurrent versions expire after 30 days).',
  },
  forceDestroy: {
    type: 'boolean',
    default: false,
    description: 'Let `pulumi destroy` delete the bucket with its objects still in it.',
  },
  sourcesFile: {
    type: 'string',
    default: 'sources.json',
    description: `Source manifest uploaded to ${topology.manifestKey}, relative to the infra directory.`,
  },
  alarmEmail: {
    type: 'string',
    default: '',
    description:
      'Address notified when the dead-letter queue is not empty or a function fails; empty deploys no alarms.',
  },
};

export interface FunctionOverrides {
  readonly memoryMb: number;
  readonly timeoutSeconds: number;
  readonly reservedConcurrency: number;
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
  readonly logRetentionDays: number;
  readonly raw: { readonly expirationDays: number; readonly transitionDays: number };
  readonly versioning: boolean;
  readonly forceDestroy: boolean;
  /** Absolute path of the validated source manifest. */
  readonly sourcesFile: string;
  /** Undefined when no alarms are deployed. */
  readonly alarmEmail: string | undefined;
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

const RATE_PATTERN = /^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$/;
const CRON_FIELD_PATTERNS: readonly [string, RegExp][] = [
  ['minutes', /^[0-9,\-*/]+$/],
  ['hours', /^[0-9,\-*/]+$/],
  ['day-of-month', /^[0-9,\-*/?LW]+$/],
  ['month', /^[0-9A-Za-z,\-*/]+$/],
  ['day-of-week', /^[0-9A-Za-z,\-*/?L#]+$/],
  ['year', /^[0-9,\-*/]+$/],
];

/**
 * The problem with a recurring EventBridge Scheduler expression, or undefined
 * when it is well formed. Rules from the Scheduler user guide: a rate uses the
 * singular unit for 1 and the plural otherwise; a cron has six fields and
 * exactly one of day-of-month and day-of-week is `?`.
 */
export function scheduleExpressionProblem(expression: string): string | undefined {
  if (expression.startsWith('rate(')) {
    const match = RATE_PATTERN.exec(expression);
    if (!match)
      return 'a rate must look like rate(10 minutes): a whole number and minute(s), hour(s) or day(s)';
    const [, amount = '', unit = ''] = match;
    const n = Number(amount);
    if (n < 1) return 'a rate must be at least 1';
    const singular = !unit.endsWith('s');
    if (n === 1 && !singular)
      return `a rate of 1 takes the singular unit: rate(1 ${unit.slice(0, -1)})`;
    if (n > 1 && singular) return `a rate above 1 takes the plural unit: rate(${n} ${unit}s)`;
    return undefined;
  }
  if (expression.startsWith('cron(') && expression.endsWith(')')) {
    const fields = expression.slice(5, -1).trim().split(/\s+/);
    if (fields.length !== 6) {
      return `a cron needs six fields (minutes hours day-of-month month day-of-week year), found ${fields.length}`;
    }
    for (const [index, [name, pattern]] of CRON_FIELD_PATTERNS.entries()) {
      const field = fields[index] ?? '';
      if (!pattern.test(field)) return `cron field ${name} is not valid: ${field}`;
    }
    const dayOfMonth = fields[2];
    const dayOfWeek = fields[4];
    if ((dayOfMonth === '?') === (dayOfWeek === '?')) {
      return 'a cron must set exactly one of day-of-month and day-of-week and put ? in the other';
    }
    return undefined;
  }
  return 'must be rate(...) or cron(...) (a one-time at(...) cannot drive a recurring pipeline)';
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
  });
  return { manager: read('manager'), collector: read('collector'), parser: read('parser') };
}

const EMAIL_PATTERN = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

function readAlarmEmail(reader: ConfigReader): string | undefined {
  const value = raw(reader, 'alarmEmail').trim();
  if (value === '') return undefined;
  if (!EMAIL_PATTERN.test(value)) {
    throw new InfraConfigError(fullKey('alarmEmail'), 'must be an email address or empty', value);
  }
  return value;
}

/** Resolves the manifest file and refuses to deploy one the manager would reject. */
function readSourcesFile(reader: ConfigReader, projectDir: string): string {
  const key = fullKey('sourcesFile');
  const value = raw(reader, 'sourcesFile').trim();
  const file = path.resolve(projectDir, value);
  if (!existsSync(file)) throw new InfraConfigError(key, `file not found at ${file}`, value);
  let invalid: string[];
  try {
    invalid = parseManifestText(readFileSync(file, 'utf8')).invalid.flatMap(
      (entry) => entry.errors,
    );
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
    logRetentionDays: readRetention(reader),
    raw: readRawLifecycle(reader),
    versioning: readBoolean(reader, 'versioning'),
    forceDestroy: readBoolean(reader, 'forceDestroy'),
    sourcesFile: readSourcesFile(reader, options.projectDir),
    alarmEmail: readAlarmEmail(reader),
  };
}
