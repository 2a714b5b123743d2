import type { FunctionId, FunctionSpec } from '@fanout/shared';
import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';
import type { ObjectGrants } from './grants.js';
import { assumeRolePolicy, functionPolicy } from './policy.js';

/** Lambda's value for "no reservation": stated, so turning reservations off removes them. */
const UNRESERVED_CONCURRENCY = -1;

export interface PipelineFunctionArgs {
  /** The function's topology entry with stack overrides applied. */
  readonly spec: FunctionSpec;
  /** The object keys the function reads and writes. */
  readonly grants: ObjectGrants;
  /** Deployed name; fixed up front so roles can name the function before it exists. */
  readonly functionName: string;
  /** The built bundle (see bundle.ts), never a serialized closure: the same file runs locally. */
  readonly code: pulumi.asset.Archive;
  /**
   * false leaves the function on the account's unreserved pool: an account whose
   * concurrency quota is 10 (new accounts) cannot reserve any, and `pulumi up` fails.
   */
  readonly reservedConcurrency: boolean;
  readonly environment: pulumi.Input<Record<string, string>>;
  readonly logRetentionDays: number;
  readonly bucketArn: pulumi.Input<string>;
  readonly deadLetterQueueArn: pulumi.Input<string>;
  /** The function `spec.onFailure` names, when it is one: it must exist before the config. */
  readonly onFailureFunction?: pulumi.Resource;
  readonly functionArns: { readonly [K in FunctionId]: pulumi.Input<string> };
}

/**
 * One Lambda function with what it needs to run on its own: a log group with
 * retention, a role limited to its topology entry, recursion detection set to
 * Terminate and async retries that end in the dead-letter queue.
 */
export class PipelineFunction extends pulumi.ComponentResource {
  readonly function: aws.lambda.Function;
  readonly logGroup: aws.cloudwatch.LogGroup;
  readonly role: aws.iam.Role;
  readonly rolePolicy: aws.iam.RolePolicy;
  readonly name: pulumi.Output<string>;
  readonly arn: pulumi.Output<string>;

  constructor(name: string, args: PipelineFunctionArgs, opts?: pulumi.ComponentResourceOptions) {
    super('fanout:compute:PipelineFunction', name, {}, opts);
    const { spec } = args;
    const parent = { parent: this };

    // Created here rather than by Lambda on first log line, so retention applies and
    // `pulumi destroy` removes it.
    this.logGroup = new aws.cloudwatch.LogGroup(
      `${name}-logs`,
      { name: `/aws/lambda/${args.functionName}`, retentionInDays: args.logRetentionDays },
      parent,
    );

    this.role = new aws.iam.Role(
      `${name}-role`,
      {
        description: `Runs ${args.functionName}`,
        assumeRolePolicy: JSON.stringify(assumeRolePolicy('lambda.amazonaws.com')),
      },
      parent,
    );

    const functionArns = pulumi.all([
      args.functionArns.manager,
      args.functionArns.collector,
      args.functionArns.parser,
    ]);
    this.rolePolicy = new aws.iam.RolePolicy(
      `${name}-policy`,
      {
        role: this.role.id,
        policy: pulumi
          .all([args.bucketArn, this.logGroup.arn, args.deadLetterQueueArn, functionArns])
          .apply(([bucketArn, logGroupArn, deadLetterQueueArn, [manager, collector, parser]]) =>
            JSON.stringify(
              functionPolicy(spec, args.grants, {
                bucketArn,
                logGroupArn,
                deadLetterQueueArn,
                functionArns: { manager, collector, parser },
              }),
            ),
          ),
      },
      parent,
    );

    this.function = new aws.lambda.Function(
      `${name}-function`,
      {
        name: args.functionName,
        description: spec.description,
        code: args.code,
        handler: spec.handler,
        runtime: spec.runtime,
        architectures: [spec.architecture],
        memorySize: spec.memoryMb,
        timeout: spec.timeoutSeconds,
        reservedConcurrentExecutions: args.reservedConcurrency
          ? spec.reservedConcurrency
          : UNRESERVED_CONCURRENCY,
        ephemeralStorage: { size: spec.ephemeralStorageMb },
        role: this.role.arn,
        environment: { variables: args.environment },
        loggingConfig: { logFormat: 'JSON', logGroup: this.logGroup.name },
      },
      // The first invocation must find its log group and its permissions in place.
      { parent: this, dependsOn: [this.logGroup, this.rolePolicy] },
    );
    this.name = this.function.name;
    this.arn = this.function.arn;

    // Terminate is Lambda's default; stating it keeps a console change from going unnoticed.
    new aws.lambda.FunctionRecursionConfig(
      `${name}-recursion`,
      { functionName: this.function.name, recursiveLoop: 'Terminate' },
      parent,
    );

    new aws.lambda.FunctionEventInvokeConfig(
      `${name}-async`,
      {
        functionName: this.function.name,
        maximumRetryAttempts: spec.async.maxRetryAttempts,
        maximumEventAgeInSeconds: spec.async.maxEventAgeSeconds,
        destinationConfig: {
          onFailure: {
            destination:
              spec.onFailure === 'dead-letter-queue'
                ? args.deadLetterQueueArn
                : args.functionArns[spec.onFailure],
          },
        },
      },
      // Lambda checks that the role may send to the destination when the config is saved.
      {
        parent: this,
        dependsOn: [this.rolePolicy, ...(args.onFailureFunction ? [args.onFailureFunction] : [])],
      },
    );

    this.registerOutputs({ name: this.name, arn: this.arn });
  }
}
