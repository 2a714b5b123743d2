import * as path from 'node:path';
import {
  type FunctionId,
  functionEnvironment,
  PREFIXES,
  topology as sharedTopology,
  type Topology,
} from '@fanout/shared';
import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';
import { PipelineAlarms } from './alarms.js';
import { ParsedRecordsCatalog } from './analytics.js';
import { assertFreshBundle, type BundleLocation, codeArchive } from './bundle.js';
import type { StackConfig } from './config.js';
import { FanoutInfraError, InfraConfigError } from './errors.js';
import { PipelineFunction } from './function.js';
import { objectGrants } from './grants.js';
import { ManagerSchedule } from './schedule.js';
import { referencedSecrets, secretsPolicy } from './secrets-grants.js';
import { PipelineBucket } from './storage.js';
import { stackTopology } from './topology.js';

/** SQS keeps a message at most 14 days; failed events wait there for a person to replay them. */
const DEAD_LETTER_RETENTION_SECONDS = 14 * 24 * 60 * 60;
/**
 * SQS's largest message, 1 MiB (aws-facts-2 section 7). An async payload may be 1 MB, so
 * the queue's 256 KiB default would refuse the failure record of a large event.
 */
export const DEAD_LETTER_MAX_MESSAGE_BYTES = 1_048_576;
/** Lambda function names are at most 64 characters. */
const MAX_FUNCTION_NAME_LENGTH = 64;

type PerFunction<T> = { readonly [K in FunctionId]: T };

export interface FanoutPipelineArgs {
  /** Validated stack config (see config.ts). */
  readonly config: StackConfig;
  /** Repository root; function code is read from `<repoRoot>/<packageDir>/dist`. */
  readonly repoRoot: string;
  /** Suffix of every function name, so stacks in one account do not collide. */
  readonly stack: string;
  /** The shared topology; tests pass a modified one. */
  readonly topology?: Topology;
}

/** The deployed name of a function: the topology's name plus the stack. */
export function deployedFunctionName(baseName: string, stack: string): string {
  const name = `${baseName}-${stack}`;
  if (name.length > MAX_FUNCTION_NAME_LENGTH || !/^[A-Za-z0-9_-]+$/.test(name)) {
    throw new FanoutInfraError(
      `function name ${JSON.stringify(name)} is not a valid Lambda name (letters, digits, - and _, at most ${MAX_FUNCTION_NAME_LENGTH}); use a shorter stack name`,
    );
  }
  return name;
}

/**
 * The Glue database a stack gets when config names none: Glue names are per account
 * and region, so the stack name keeps two stacks apart, as it does for functions.
 */
export function defaultDatabaseName(stack: string): string {
  return `fanout_${stack.toLowerCase().replace(/[^a-z0-9_]/g, '_')}`;
}

/** The contract package's sources, which esbuild inlines into every bundle. */
const SHARED_SOURCE_DIR = 'packages/shared/src';

/** Where the esbuild output of a function package lives. */
export function codeDirectory(repoRoot: string, packageDir: string): string {
  return path.join(repoRoot, packageDir, 'dist');
}

/** The function's dist directory and the sources its bundle is built from. */
export function bundleLocation(repoRoot: string, packageDir: string): BundleLocation {
  return {
    distDir: codeDirectory(repoRoot, packageDir),
    sourceDirs: [path.join(repoRoot, packageDir, 'src'), path.join(repoRoot, SHARED_SOURCE_DIR)],
  };
}

/**
 * The whole Fanout pipeline in one account and region: bucket, three functions,
 * dead-letter queue, schedule, the raw-prefix notification and optional alarms.
 */
export class FanoutPipeline extends pulumi.ComponentResource {
  readonly topology: Topology;
  readonly bucketName: pulumi.Output<string>;
  readonly functionNames: pulumi.Output<PerFunction<string>>;
  readonly deadLetterQueueUrl: pulumi.Output<string>;
  readonly scheduleName: pulumi.Output<string>;
  readonly scheduleExpression: pulumi.Output<string>;
  readonly analyticsDatabaseName: pulumi.Output<string>;
  readonly analyticsTableName: pulumi.Output<string>;

  constructor(name: string, args: FanoutPipelineArgs, opts?: pulumi.ComponentResourceOptions) {
    super('fanout:index:FanoutPipeline', name, {}, opts);
    const { config } = args;
    const topo = stackTopology(config, args.topology ?? sharedTopology);
    this.topology = topo;
    const parent = { parent: this };

    // Every bundle is checked before the first resource is registered, so a stale one
    // stops the deployment before anything changes.
    const bundleOf = (id: FunctionId): BundleLocation => {
      const bundle = bundleLocation(args.repoRoot, topo.functions[id].packageDir);
      assertFreshBundle(bundle);
      return bundle;
    };
    const bundles: PerFunction<BundleLocation> = {
      manager: bundleOf('manager'),
      collector: bundleOf('collector'),
      parser: bundleOf('parser'),
    };

    const partition = aws.getPartitionOutput({}, parent).partition;
    const region = aws.getRegionOutput({}, parent).region;
    const accountId = aws.getCallerIdentityOutput({}, parent).accountId;

    const storage = new PipelineBucket(
      `${name}-storage`,
      {
        rawPrefix: topo.notification.prefix,
        rawExpirationDays: config.raw.expirationDays,
        rawTransitionDays: config.raw.transitionDays,
        // The state travels in each run manifest, so expiring old runs loses it only
        // when no run happened for the whole period.
        expirations: [
          { prefix: PREFIXES.runs, days: config.expirationDays.runs },
          { prefix: PREFIXES.quarantine, days: config.expirationDays.quarantine },
        ],
        versioning: config.versioning,
        forceDestroy: config.forceDestroy,
        manifestFile: config.sourcesFile,
        manifestKey: topo.manifestKey,
      },
      parent,
    );

    const deadLetterQueue = new aws.sqs.Queue(
      `${name}-dlq`,
      {
        sqsManagedSseEnabled: true,
        messageRetentionSeconds: DEAD_LETTER_RETENTION_SECONDS,
        maxMessageSize: DEAD_LETTER_MAX_MESSAGE_BYTES,
      },
      parent,
    );

    // Names are fixed before anything is created: the manager and the collector
    // invoke themselves, so a role must name its own function's ARN, which an
    // auto-generated name would only reveal after the function exists.
    const names: PerFunction<string> = {
      manager: deployedFunctionName(topo.functions.manager.name, args.stack),
      collector: deployedFunctionName(topo.functions.collector.name, args.stack),
      parser: deployedFunctionName(topo.functions.parser.name, args.stack),
    };
    const arnOf = (id: FunctionId): pulumi.Output<string> =>
      pulumi.interpolate`arn:${partition}:lambda:${region}:${accountId}:function:${names[id]}`;
    const functionArns: PerFunction<pulumi.Output<string>> = {
      manager: arnOf('manager'),
      collector: arnOf('collector'),
      parser: arnOf('parser'),
    };

    const grants = objectGrants(topo);
    const deploy = (id: FunctionId, onFailureFunction?: PipelineFunction): PipelineFunction => {
      const spec = topo.functions[id];
      const bundle = bundles[id];
      return new PipelineFunction(
        `${name}-${id}`,
        {
          spec,
          grants: grants[id],
          functionName: names[id],
          code: codeArchive(bundle.distDir, { sourceMaps: config.sourceMaps }),
          reservedConcurrency: config.reservedConcurrencyEnabled,
          environment: storage.name.apply((bucket) =>
            functionEnvironment(id, { bucket, functions: names }, topo),
          ),
          logRetentionDays: config.logRetentionDays,
          bucketArn: storage.arn,
          deadLetterQueueArn: deadLetterQueue.arn,
          functionArns,
          ...(onFailureFunction ? { onFailureFunction: onFailureFunction.function } : {}),
        },
        parent,
      );
    };
    const manager = deploy('manager');
    const onFailureOf = (id: FunctionId) => {
      const target = topo.functions[id].onFailure;
      if (target === 'dead-letter-queue') return undefined;
      if (target !== 'manager') {
        throw new InfraConfigError(
          'topology',
          `the on-failure destination of ${id} is ${target}; only the manager is deployed before the others`,
        );
      }
      return manager;
    };
    const functions: PerFunction<PipelineFunction> = {
      manager,
      collector: deploy('collector', onFailureOf('collector')),
      parser: deploy('parser', onFailureOf('parser')),
    };

    // Only the secrets the deployed manifest references, decided before anything is
    // created; no reference, no policy, so the collector cannot read any secret.
    const referenced = referencedSecrets(config.sourcesFile);
    if (referenced.parameters.length > 0 || referenced.secrets.length > 0) {
      new aws.iam.RolePolicy(
        `${name}-collector-secrets`,
        {
          role: functions.collector.role.id,
          policy: pulumi.all([partition, region, accountId]).apply(([p, r, a]) =>
            JSON.stringify(
              secretsPolicy(referenced, {
                partition: p,
                region: r,
                accountId: a,
                kmsKeyArn: config.secretsKmsKeyArn,
              }),
            ),
          ),
        },
        parent,
      );
    }

    const target = functions[topo.notification.function];
    const permission = new aws.lambda.Permission(
      `${name}-notify-permission`,
      {
        action: 'lambda:InvokeFunction',
        function: target.name,
        principal: 's3.amazonaws.com',
        sourceArn: storage.arn,
        // Bucket names are global: the account pins the permission to this account's bucket.
        sourceAccount: accountId,
      },
      parent,
    );

    // The bucket's one notification configuration: S3 keeps a single one per bucket,
    // so a second resource would silently replace this one.
    new aws.s3.BucketNotification(
      `${name}-notification`,
      {
        bucket: storage.bucket.id,
        lambdaFunctions: [
          {
            lambdaFunctionArn: target.arn,
            events: [...topo.notification.events],
            filterPrefix: topo.notification.prefix,
            ...(topo.notification.suffix ? { filterSuffix: topo.notification.suffix } : {}),
          },
        ],
      },
      // S3 test-invokes the target when the configuration is saved.
      { parent: this, dependsOn: [permission] },
    );

    const schedule = new ManagerSchedule(
      `${name}-schedule`,
      {
        expression: topo.schedule.expression,
        timezone: config.schedule.timezone,
        enabled: config.schedule.enabled,
        managerArn: functions[topo.schedule.target].arn,
        deadLetterQueueArn: deadLetterQueue.arn,
        accountId,
        region,
        partition,
      },
      parent,
    );

    const catalog = new ParsedRecordsCatalog(
      `${name}-analytics`,
      {
        bucketName: storage.name,
        parsedPrefix: PREFIXES.parsed,
        databaseName: config.analytics.databaseName ?? defaultDatabaseName(args.stack),
        tableName: config.analytics.tableName,
        startDate: config.analytics.startDate,
      },
      parent,
    );

    if (config.alarmEmail !== undefined) {
      new PipelineAlarms(
        `${name}-alarms`,
        {
          email: config.alarmEmail,
          deadLetterQueueName: deadLetterQueue.name,
          functionNames: {
            manager: functions.manager.name,
            collector: functions.collector.name,
            parser: functions.parser.name,
          },
        },
        parent,
      );
    }

    this.bucketName = storage.name;
    this.functionNames = pulumi.output({
      manager: functions.manager.name,
      collector: functions.collector.name,
      parser: functions.parser.name,
    });
    this.deadLetterQueueUrl = deadLetterQueue.url;
    this.scheduleName = schedule.name;
    this.scheduleExpression = schedule.expression;
    this.analyticsDatabaseName = catalog.databaseName;
    this.analyticsTableName = catalog.tableName;

    this.registerOutputs({
      analyticsDatabaseName: this.analyticsDatabaseName,
      analyticsTableName: this.analyticsTableName,
      bucketName: this.bucketName,
      functionNames: this.functionNames,
      deadLetterQueueUrl: this.deadLetterQueueUrl,
      scheduleName: this.scheduleName,
      scheduleExpression: this.scheduleExpression,
    });
  }
}
