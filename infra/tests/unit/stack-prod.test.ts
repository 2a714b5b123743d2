import { ENV } from '@fanout/shared';
import { beforeAll, describe, expect, it } from 'vitest';
import { policyOf } from '../helpers/policies.js';
import {
  installMocks,
  ofType,
  onlyOfType,
  outputValue,
  type RecordedResource,
  registrationsSettled,
} from '../helpers/pulumi-mocks.js';
import { stackValues } from '../helpers/stack-files.js';

// The example prod stack file, applied as `pulumi up` on a `prod` stack would.
const values = stackValues('Pulumi.prod.yaml');

let resources: RecordedResource[];
let program: typeof import('../../src/index.js');

beforeAll(async () => {
  resources = await installMocks(values, 'prod');
  program = await import('../../src/index.js');
  await registrationsSettled();
});

function named(name: string): RecordedResource {
  const found = resources.find((resource) => resource.name === name);
  if (!found) throw new Error(`no resource named ${name}`);
  return found;
}

describe('the prod stack file takes effect', () => {
  it('suffixes function names with the stack', async () => {
    expect(await outputValue(program.functionNames)).toEqual({
      manager: 'fanout-manager-prod',
      collector: 'fanout-collector-prod',
      parser: 'fanout-parser-prod',
    });
  });

  it('sizes the collector and parser as configured', () => {
    expect(named('fanout-collector-function').inputs).toMatchObject({
      memorySize: Number(values.collectorMemoryMb),
      reservedConcurrentExecutions: Number(values.collectorReservedConcurrency),
    });
    expect(named('fanout-parser-function').inputs.memorySize).toBe(Number(values.parserMemoryMb));
  });

  it('tells the manager the collector limits of this stack, not the topology defaults', () => {
    const env = (
      named('fanout-manager-function').inputs.environment as {
        variables: Record<string, string>;
      }
    ).variables;
    expect(env[ENV.collectorMaxParallel]).toBe(values.collectorReservedConcurrency);
  });

  it('uses its schedule and log retention', async () => {
    expect(await outputValue(program.scheduleExpression)).toBe(values.schedule);
    for (const logGroup of ofType(resources, 'aws:cloudwatch/logGroup:LogGroup')) {
      expect(logGroup.inputs.retentionInDays).toBe(Number(values.logRetentionDays));
    }
  });

  it('versions the bucket, moves raw objects to STANDARD_IA, then expires them', () => {
    expect(onlyOfType(resources, 'aws:s3/bucketVersioning:BucketVersioning').inputs).toMatchObject({
      versioningConfiguration: { status: 'Enabled' },
    });
    const rules = onlyOfType(
      resources,
      'aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration',
    ).inputs.rules as Record<string, unknown>[];
    expect(rules).toContainEqual(
      expect.objectContaining({
        filter: { prefix: 'raw/' },
        expiration: { days: Number(values.rawExpirationDays) },
        transitions: [{ days: Number(values.rawTransitionDays), storageClass: 'STANDARD_IA' }],
      }),
    );
    expect(rules).toContainEqual(
      expect.objectContaining({ noncurrentVersionExpiration: { noncurrentDays: 30 } }),
    );
  });

  it('alarms by email on a non-empty dead-letter queue and on function errors', () => {
    const topic = onlyOfType(resources, 'aws:sns/topic:Topic');
    const subscription = onlyOfType(resources, 'aws:sns/topicSubscription:TopicSubscription');
    expect(subscription.inputs).toMatchObject({ protocol: 'email', endpoint: values.alarmEmail });
    const alarms = ofType(resources, 'aws:cloudwatch/metricAlarm:MetricAlarm');
    expect(alarms).toHaveLength(4);
    for (const alarm of alarms) {
      expect(alarm.inputs).toMatchObject({
        threshold: 0,
        comparisonOperator: 'GreaterThanThreshold',
        alarmActions: [topic.state.arn],
      });
    }
    const queueName = onlyOfType(resources, 'aws:sqs/queue:Queue').state.name;
    expect(alarms.map((alarm) => alarm.inputs.dimensions)).toEqual(
      expect.arrayContaining([
        { QueueName: queueName },
        { FunctionName: 'fanout-manager-prod' },
        { FunctionName: 'fanout-collector-prod' },
        { FunctionName: 'fanout-parser-prod' },
      ]),
    );
  });

  it('keeps the bucket from being destroyed with objects in it', () => {
    expect(onlyOfType(resources, 'aws:s3/bucket:Bucket').inputs.forceDestroy).toBe(false);
    const policy = policyOf(onlyOfType(resources, 'aws:s3/bucketPolicy:BucketPolicy'));
    expect(policy.Statement[0]?.Effect).toBe('Deny');
  });
});
