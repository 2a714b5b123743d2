import {
  FUNCTION_IDS,
  type FunctionId,
  LAMBDA_MAX_MEMORY_MB,
  LAMBDA_MAX_TIMEOUT_SECONDS,
  LAMBDA_MIN_MEMORY_MB,
  SUPPORTED_RUNTIMES,
  topology,
} from '@fanout/shared';

/** S3 refuses lifecycle transitions to STANDARD_IA earlier than 30 days after creation. */
export const MIN_STANDARD_IA_TRANSITION_DAYS = 30;

/** Lambda /tmp size range in MB (aws-facts-2 section 6); 512 is free, more is billed per GB-s. */
export const LAMBDA_MIN_EPHEMERAL_STORAGE_MB = 512;
export const LAMBDA_MAX_EPHEMERAL_STORAGE_MB = 10_240;

export const ARCHITECTURES = ['arm64', 'x86_64'] as const;
export type Architecture = (typeof ARCHITECTURES)[number];

type KeyType = 'string' | 'integer' | 'boolean';

export interface ConfigKeySpec {
  readonly type: KeyType;
  readonly default: string | number | boolean;
  readonly description: string;
}

const OVERRIDE_KEYS = [
  'MemoryMb',
  'TimeoutSeconds',
  'ReservedConcurrency',
  'EphemeralStorageMb',
] as const;
export type OverrideKey = (typeof OVERRIDE_KEYS)[number];

export function overrideKey(id: FunctionId, suffix: OverrideKey): string {
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
    specs[overrideKey(id, 'EphemeralStorageMb')] = {
      type: 'integer',
      default: fn.ephemeralStorageMb,
      description: `Size of the ${id} function's /tmp in MB (${LAMBDA_MIN_EPHEMERAL_STORAGE_MB}-${LAMBDA_MAX_EPHEMERAL_STORAGE_MB}; above ${LAMBDA_MIN_EPHEMERAL_STORAGE_MB} is billed).`,
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
  reservedConcurrencyEnabled: {
    type: 'boolean',
    default: true,
    description:
      'false deploys the functions without reserved concurrency, for accounts whose concurrency quota is 10 (new accounts).',
  },
  sourceMaps: {
    type: 'boolean',
    default: false,
    description:
      "Ship each function's source map (index.mjs.map) beside its bundle, for stack traces with source lines.",
  },
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
  runsExpirationDays: {
    type: 'integer',
    default: 90,
    description:
      'Days after which run records under runs/ are deleted; 0 keeps them forever. Longer than any pause of the schedule.',
  },
  quarantineExpirationDays: {
    type: 'integer',
    default: 30,
    description:
      'Days after which quarantined objects and their error reports are deleted; 0 keeps them forever.',
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
  secretsKmsKeyArn: {
    type: 'string',
    default: '',
    description:
      'ARN of a customer managed KMS key that encrypts the SSM parameters or secrets the manifest references; the collector may then kms:Decrypt with it through SSM and Secrets Manager only. Empty: AWS managed keys, no grant.',
  },
  alarmEmail: {
    type: 'string',
    default: '',
    description:
      'Address notified when the dead-letter queue is not empty or a function fails; empty deploys no alarms.',
  },
  analyticsDatabase: {
    type: 'string',
    default: '',
    description:
      'Glue database of the parsed-records table (lowercase letters, digits, _); empty means fanout_<stack>.',
  },
  analyticsTable: {
    type: 'string',
    default: 'records',
    description: 'Glue table over parsed/ that Athena queries (lowercase letters, digits, _).',
  },
  analyticsStartDate: {
    type: 'string',
    default: '2026-01-01',
    description:
      'First dt (YYYY-MM-DD) the table projects; the partition range runs from it to NOW.',
  },
};
