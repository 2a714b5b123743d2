import { existsSync } from 'node:fs';
import * as path from 'node:path';
import {
  DEPRECATED_RUNTIMES,
  FUNCTION_IDS,
  type FunctionId,
  functionEnvironment,
  functionsReachableFromNotification,
  PREFIXES,
  prefixesOverlap,
  recursiveTriggerRisks,
  SCHEDULER_INPUT_TEMPLATE,
  SUPPORTED_RUNTIMES,
  topology,
} from '@fanout/shared';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  asList,
  policyOf,
  prefixesOf,
  resourceScopeProblem,
  resourcesFor,
} from '../helpers/policies.js';
import {
  ACCOUNT_ID,
  installMocks,
  ofType,
  onlyOfType,
  outputValue,
  REGION,
  type RecordedResource,
  registrationsSettled,
} from '../helpers/pulumi-mocks.js';

const REPO_ROOT = path.resolve(__dirname, '..', '..', '..');
const STACK = 'test';

let resources: RecordedResource[];
let program: typeof import('../../src/index.js');

beforeAll(async () => {
  resources = await installMocks({}, STACK);
  program = await import('../../src/index.js');
  await registrationsSettled();
});

function named(name: string): RecordedResource {
  const found = resources.find((resource) => resource.name === name);
  if (!found) throw new Error(`no resource named ${name}`);
  return found;
}

const fn = (id: FunctionId) => named(`fanout-${id}-function`);
const rolePolicy = (id: FunctionId) => policyOf(named(`fanout-${id}-policy`));
const functionName = (id: FunctionId) => `${topology.functions[id].name}-${STACK}`;
const functionArn = (id: FunctionId) =>
  `arn:aws:lambda:${REGION}:${ACCOUNT_ID}:function:${functionName(id)}`;
const bucketName = () => String(onlyOfType(resources, 'aws:s3/bucket:Bucket').state.bucket);
const bucketArn = () => `arn:aws:s3:::${bucketName()}`;
const dlqArn = () => {
  const queue = onlyOfType(resources, 'aws:sqs/queue:Queue');
  return `arn:aws:sqs:${REGION}:${ACCOUNT_ID}:${String(queue.state.name)}`;
};

describe('resource inventory', () => {
  it('creates exactly the resources of one pipeline and no alarms by default', () => {
    const counts: Record<string, number> = {};
    for (const resource of resources) counts[resource.type] = (counts[resource.type] ?? 0) + 1;
    expect(counts).toEqual({
      'fanout:index:FanoutPipeline': 1,
      'fanout:storage:PipelineBucket': 1,
      'fanout:compute:PipelineFunction': 3,
      'fanout:schedule:ManagerSchedule': 1,
      'fanout:analytics:ParsedRecordsCatalog': 1,
      'aws:glue/catalogDatabase:CatalogDatabase': 1,
      'aws:glue/catalogTable:CatalogTable': 1,
      'aws:s3/bucket:Bucket': 1,
      'aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock': 1,
      'aws:s3/bucketOwnershipControls:BucketOwnershipControls': 1,
      'aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration': 1,
      'aws:s3/bucketPolicy:BucketPolicy': 1,
      'aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration': 1,
      'aws:s3/bucketObjectv2:BucketObjectv2': 1,
      'aws:s3/bucketNotification:BucketNotification': 1,
      'aws:sqs/queue:Queue': 1,
      'aws:cloudwatch/logGroup:LogGroup': 3,
      'aws:iam/role:Role': 4,
      'aws:iam/rolePolicy:RolePolicy': 4,
      'aws:lambda/function:Function': 3,
      'aws:lambda/functionRecursionConfig:FunctionRecursionConfig': 3,
      'aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig': 3,
      'aws:lambda/permission:Permission': 1,
      'aws:scheduler/schedule:Schedule': 1,
    });
  });

  it('names every resource after its component', () => {
    for (const resource of resources) expect(resource.name).toMatch(/^fanout(-|$)/);
  });

  it('exports bucket, function names, dead-letter queue and schedule', async () => {
    expect(await outputValue(program.bucketName)).toBe(bucketName());
    expect(await outputValue(program.functionNames)).toEqual({
      manager: functionName('manager'),
      collector: functionName('collector'),
      parser: functionName('parser'),
    });
    expect(await outputValue(program.deadLetterQueueUrl)).toMatch(/^https:\/\/sqs\./);
    expect(await outputValue(program.scheduleName)).toEqual(expect.any(String));
    expect(await outputValue(program.scheduleExpression)).toBe(topology.schedule.expression);
  });
});

describe('bucket', () => {
  it('blocks all public access', () => {
    const block = onlyOfType(resources, 'aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock');
    expect(block.inputs).toMatchObject({
      bucket: bucketName(),
      blockPublicAcls: true,
      blockPublicPolicy: true,
      ignorePublicAcls: true,
      restrictPublicBuckets: true,
    });
  });

  it('enforces bucket-owner ownership and default encryption', () => {
    const ownership = onlyOfType(
      resources,
      'aws:s3/bucketOwnershipControls:BucketOwnershipControls',
    );
    expect(ownership.inputs.rule).toEqual({ objectOwnership: 'BucketOwnerEnforced' });
    const encryption = onlyOfType(
      resources,
      'aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration',
    );
    expect(encryption.inputs.rules).toEqual([
      { applyServerSideEncryptionByDefault: { sseAlgorithm: 'AES256' } },
    ]);
  });

  it('denies every request that is not sent over TLS, on the bucket and its objects', () => {
    const policy = policyOf(onlyOfType(resources, 'aws:s3/bucketPolicy:BucketPolicy'));
    const deny = policy.Statement.find(
      (statement) =>
        statement.Effect === 'Deny' &&
        statement.Condition?.Bool?.['aws:SecureTransport'] === 'false',
    );
    expect(deny).toBeDefined();
    expect(deny?.Principal).toBe('*');
    expect(asList(deny?.Action)).toEqual(['s3:*']);
    expect(asList(deny?.Resource).sort()).toEqual([bucketArn(), `${bucketArn()}/*`].sort());
    expect(policy.Statement.filter((statement) => statement.Effect === 'Allow')).toEqual([]);
  });

  it('ages raw responses out and only those', () => {
    const lifecycle = onlyOfType(
      resources,
      'aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration',
    );
    const rules = lifecycle.inputs.rules as {
      filter?: { prefix?: string };
      expiration?: unknown;
    }[];
    const expiring = rules.filter((rule) => rule.expiration !== undefined);
    expect(expiring).toHaveLength(1);
    expect(expiring[0]).toMatchObject({
      status: 'Enabled',
      filter: { prefix: PREFIXES.raw },
      expiration: { days: 30 },
    });
    expect(ofType(resources, 'aws:s3/bucketVersioning:BucketVersioning')).toEqual([]);
  });

  it('uploads the source manifest from the repository at the manifest key', async () => {
    const manifest = onlyOfType(resources, 'aws:s3/bucketObjectv2:BucketObjectv2');
    expect(manifest.inputs.key).toBe(topology.manifestKey);
    expect(manifest.inputs.bucket).toBe(bucketName());
    const source = manifest.inputs.source as { path: Promise<string> };
    const file = await source.path;
    expect(file).toBe(path.join(REPO_ROOT, 'infra', 'sources.json'));
    expect(existsSync(file)).toBe(true);
  });
});

describe('functions', () => {
  it.each(FUNCTION_IDS)('%s runs a supported runtime on arm64 with its topology limits', (id) => {
    const spec = topology.functions[id];
    const inputs = fn(id).inputs;
    expect(SUPPORTED_RUNTIMES).toContain(inputs.runtime);
    expect(DEPRECATED_RUNTIMES).not.toContain(inputs.runtime);
    expect(inputs).toMatchObject({
      name: functionName(id),
      handler: 'index.handler',
      architectures: ['arm64'],
      memorySize: spec.memoryMb,
      timeout: spec.timeoutSeconds,
      reservedConcurrentExecutions: spec.reservedConcurrency,
    });
  });

  it.each(FUNCTION_IDS)('%s code is the built bundle directory of its package', async (id) => {
    const code = fn(id).inputs.code as { __pulumiArchive?: boolean; path: Promise<string> };
    expect(code.__pulumiArchive).toBe(true);
    const dir = await code.path;
    expect(dir).toBe(path.join(REPO_ROOT, 'packages', id, 'dist'));
    // turbo builds the function packages before infra's tests (devDependencies + ^build).
    expect(
      existsSync(path.join(dir, 'index.mjs')),
      `${dir}/index.mjs is missing: run pnpm build`,
    ).toBe(true);
  });

  it.each(FUNCTION_IDS)('%s gets the environment the shared topology defines', (id) => {
    const expected = functionEnvironment(id, {
      bucket: bucketName(),
      functions: {
        manager: functionName('manager'),
        collector: functionName('collector'),
        parser: functionName('parser'),
      },
    });
    expect(fn(id).inputs.environment).toEqual({ variables: expected });
  });

  it.each(FUNCTION_IDS)('%s logs to its own log group with retention', (id) => {
    const logGroup = named(`fanout-${id}-logs`);
    expect(logGroup.inputs).toMatchObject({
      name: `/aws/lambda/${functionName(id)}`,
      retentionInDays: 14,
    });
    expect(fn(id).inputs.loggingConfig).toMatchObject({
      logGroup: `/aws/lambda/${functionName(id)}`,
    });
  });

  it.each(FUNCTION_IDS)('%s stops recursive loops', (id) => {
    expect(named(`fanout-${id}-recursion`).inputs).toEqual({
      functionName: functionName(id),
      recursiveLoop: 'Terminate',
    });
  });
});

describe('async failure handling', () => {
  it('keeps failed events for 14 days in an encrypted queue', () => {
    expect(onlyOfType(resources, 'aws:sqs/queue:Queue').inputs).toMatchObject({
      sqsManagedSseEnabled: true,
      messageRetentionSeconds: 1_209_600,
    });
  });

  it.each(FUNCTION_IDS)('%s sends events that ran out of retries to the queue', (id) => {
    const configs = ofType(
      resources,
      'aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig',
    ).filter((config) => config.inputs.functionName === functionName(id));
    expect(configs).toHaveLength(1);
    expect(configs[0]?.inputs).toMatchObject({
      maximumRetryAttempts: topology.functions[id].async.maxRetryAttempts,
      maximumEventAgeInSeconds: topology.functions[id].async.maxEventAgeSeconds,
      destinationConfig: { onFailure: { destination: dlqArn() } },
    });
    expect(resourcesFor(rolePolicy(id), 'sqs:SendMessage')).toEqual([dlqArn()]);
  });
});

describe('least privilege', () => {
  const policies = () => ofType(resources, 'aws:iam/rolePolicy:RolePolicy');

  it('grants no wildcard action and no unscoped resource in any role policy', () => {
    expect(policies()).toHaveLength(4);
    for (const policy of policies()) {
      for (const statement of policyOf(policy).Statement) {
        expect(statement.Effect, policy.name).toBe('Allow');
        for (const action of asList(statement.Action)) {
          expect(action, `${policy.name} ${statement.Sid}`).not.toContain('*');
        }
        const granted = asList(statement.Resource);
        expect(granted.length, `${policy.name} ${statement.Sid}`).toBeGreaterThan(0);
        for (const resource of granted) {
          expect(resourceScopeProblem(resource), `${policy.name}: ${resource}`).toBeUndefined();
        }
      }
    }
  });

  it('lets each role be assumed only by its service', () => {
    const roles = ofType(resources, 'aws:iam/role:Role');
    const services = roles.map((role) =>
      policyOf(role, 'assumeRolePolicy').Statement.map((statement) => statement.Principal),
    );
    expect(services).toEqual(
      expect.arrayContaining([
        [{ Service: 'lambda.amazonaws.com' }],
        [{ Service: 'scheduler.amazonaws.com' }],
      ]),
    );
    const scheduler = roles.find((role) => role.name === 'fanout-schedule-role');
    expect(scheduler && policyOf(scheduler, 'assumeRolePolicy').Statement[0]?.Condition).toEqual({
      StringEquals: { 'aws:SourceAccount': ACCOUNT_ID },
    });
  });

  // The design, written out rather than read from the topology, so a topology
  // change that widens fan-out fails here.
  const mayInvoke: Record<FunctionId, FunctionId[]> = {
    manager: ['collector', 'manager'],
    collector: ['collector'],
    parser: [],
  };

  it.each(FUNCTION_IDS)('%s may invoke only what the design allows', (id) => {
    const invocable = resourcesFor(rolePolicy(id), 'lambda:InvokeFunction').sort();
    expect(invocable).toEqual(mayInvoke[id].map(functionArn).sort());
  });

  it('lets the scheduler start only the manager', () => {
    const policy = policyOf(named('fanout-schedule-policy'));
    expect(resourcesFor(policy, 'lambda:InvokeFunction')).toEqual([functionArn('manager')]);
    expect(resourcesFor(policy, 'sqs:SendMessage')).toEqual([dlqArn()]);
    expect(policy.Statement).toHaveLength(2);
  });

  it.each(FUNCTION_IDS)('%s reads and writes only its topology prefixes', (id) => {
    const spec = topology.functions[id];
    const policy = rolePolicy(id);
    expect(prefixesOf(resourcesFor(policy, 's3:GetObject')).sort()).toEqual([...spec.reads].sort());
    expect(prefixesOf(resourcesFor(policy, 's3:PutObject')).sort()).toEqual(
      [...spec.writes].sort(),
    );
    const listing = policy.Statement.filter((s) => asList(s.Action).includes('s3:ListBucket'));
    if (spec.reads.length === 0) {
      expect(listing).toEqual([]);
    } else {
      expect(listing).toHaveLength(1);
      expect(asList(listing[0]?.Resource)).toEqual([bucketArn()]);
      expect(asList(listing[0]?.Condition?.StringLike?.['s3:prefix']).sort()).toEqual(
        spec.reads.map((prefix) => `${prefix}*`).sort(),
      );
    }
  });

  it.each(FUNCTION_IDS)('%s writes logs only to its own log group', (id) => {
    const logGroupArn = `arn:aws:logs:${REGION}:${ACCOUNT_ID}:log-group:/aws/lambda/${functionName(id)}`;
    expect(resourcesFor(rolePolicy(id), 'logs:PutLogEvents')).toEqual([`${logGroupArn}:*`]);
  });
});

describe('raw object notification', () => {
  const notification = () => onlyOfType(resources, 'aws:s3/bucketNotification:BucketNotification');

  it('is the bucket’s one notification and starts only the parser on created raw objects', () => {
    const inputs = notification().inputs;
    expect(inputs.bucket).toBe(bucketName());
    expect(inputs.queues ?? []).toEqual([]);
    expect(inputs.topics ?? []).toEqual([]);
    expect(inputs.lambdaFunctions).toEqual([
      {
        lambdaFunctionArn: functionArn('parser'),
        events: ['s3:ObjectCreated:*'],
        filterPrefix: PREFIXES.raw,
      },
    ]);
  });

  it('triggers on a prefix that nothing it can start writes to (no loop)', () => {
    expect(recursiveTriggerRisks()).toEqual([]);
    const reachable = functionsReachableFromNotification();
    expect(reachable).toContain('parser');
    for (const id of reachable) {
      for (const written of prefixesOf(resourcesFor(rolePolicy(id), 's3:PutObject'))) {
        expect(prefixesOverlap(written, PREFIXES.raw), `${id} writes ${written}`).toBe(false);
      }
    }
  });

  it('is allowed to invoke the parser from this bucket in this account only', () => {
    expect(onlyOfType(resources, 'aws:lambda/permission:Permission').inputs).toMatchObject({
      action: 'lambda:InvokeFunction',
      function: functionName('parser'),
      principal: 's3.amazonaws.com',
      sourceArn: bucketArn(),
      sourceAccount: ACCOUNT_ID,
    });
  });
});

describe('schedule', () => {
  it('starts the manager on time with the scheduler input template, retries and a DLQ', () => {
    const schedule = onlyOfType(resources, 'aws:scheduler/schedule:Schedule').inputs;
    expect(schedule).toMatchObject({
      scheduleExpression: topology.schedule.expression,
      scheduleExpressionTimezone: 'UTC',
      state: 'ENABLED',
      flexibleTimeWindow: { mode: 'OFF' },
    });
    const target = schedule.target as Record<string, unknown>;
    expect(target.arn).toBe(functionArn('manager'));
    expect(JSON.parse(String(target.input))).toEqual(SCHEDULER_INPUT_TEMPLATE);
    expect(target.deadLetterConfig).toEqual({ arn: dlqArn() });
    expect(target.retryPolicy).toMatchObject({ maximumRetryAttempts: expect.any(Number) });
    expect(target.roleArn).toMatch(/^arn:aws:iam::\d{12}:role\/fanout-schedule-role/);
  });
});
