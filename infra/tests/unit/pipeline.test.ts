import { existsSync, readdirSync } from 'node:fs';
import * as path from 'node:path';
import {
  batchFailureKey,
  batchResultKey,
  DEPRECATED_RUNTIMES,
  FUNCTION_IDS,
  type FunctionId,
  functionEnvironment,
  functionsReachableFromNotification,
  invalidEventKey,
  PREFIXES,
  parsedKeyForRaw,
  prefixesOverlap,
  quarantineKeyForEntry,
  quarantineReportKeyForRaw,
  rawKey,
  rawPackKey,
  recursiveTriggerRisks,
  redispatchKey,
  runManifestKey,
  SCHEDULER_INPUT_TEMPLATE,
  SUPPORTED_RUNTIMES,
  sourceStateKey,
  topology,
} from '@fanout/shared';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  asList,
  keyMatches,
  keyPatternsOf,
  literalHead,
  policyOf,
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
      // The records table and its two views (records_latest, records_changes).
      'aws:glue/catalogTable:CatalogTable': 3,
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

  it('expires raw responses, run records and quarantined objects, and nothing else', () => {
    const lifecycle = onlyOfType(
      resources,
      'aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration',
    );
    const rules = lifecycle.inputs.rules as {
      status?: string;
      filter?: { prefix?: string };
      expiration?: { days?: number };
    }[];
    const expiring = rules.filter((rule) => rule.expiration !== undefined);
    expect(
      expiring.map((rule) => [rule.status, rule.filter?.prefix, rule.expiration?.days]).sort(),
    ).toEqual(
      [
        ['Enabled', PREFIXES.quarantine, 30],
        ['Enabled', PREFIXES.raw, 30],
        ['Enabled', PREFIXES.runs, 90],
      ].sort(),
    );
    // Parsed records (the product) and the manifest are kept.
    for (const rule of expiring) {
      expect(prefixesOverlap(rule.filter?.prefix ?? '', PREFIXES.parsed)).toBe(false);
      expect(prefixesOverlap(rule.filter?.prefix ?? '', PREFIXES.manifest)).toBe(false);
    }
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

  it.each(FUNCTION_IDS)(
    '%s code is its package’s built handler bundle and its chunks',
    async (id) => {
      const code = fn(id).inputs.code as {
        __pulumiArchive?: boolean;
        assets: Promise<Record<string, { path: Promise<string> }>>;
      };
      expect(code.__pulumiArchive).toBe(true);
      const assets = await code.assets;
      // No meta.json (build metadata) and, by default, no source map; every chunk the build wrote.
      const chunksDir = path.join(REPO_ROOT, 'packages', id, 'dist', 'chunks');
      const chunks = existsSync(chunksDir)
        ? readdirSync(chunksDir)
            .filter((name) => name.endsWith('.mjs'))
            .map((name) => `chunks/${name}`)
        : [];
      expect(Object.keys(assets).sort()).toEqual(['index.mjs', ...chunks].sort());
      if (id !== 'manager') {
        // The HTML library is a chunk loaded on first use, not part of the cold start.
        expect(chunks.some((name) => /^chunks\/html(-next)?-[A-Z0-9]+\.mjs$/.test(name))).toBe(
          true,
        );
      }
      const file = await assets['index.mjs']?.path;
      expect(file).toBe(path.join(REPO_ROOT, 'packages', id, 'dist', 'index.mjs'));
      // turbo builds the function packages before infra's tests (devDependencies + ^build).
      expect(existsSync(file ?? ''), `${file} is missing: run pnpm build`).toBe(true);
    },
  );

  it.each(FUNCTION_IDS)('%s gets the /tmp size of its topology entry', (id) => {
    expect(fn(id).inputs.ephemeralStorage).toEqual({
      size: topology.functions[id].ephemeralStorageMb,
    });
  });

  it('gives the collector, which spools large bodies, more /tmp than the free 512 MB', () => {
    expect(fn('collector').inputs.ephemeralStorage).toEqual({ size: 1024 });
    expect(fn('parser').inputs.ephemeralStorage).toEqual({ size: 512 });
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

  it('accepts messages as large as an async payload (1 MiB, not the 256 KiB default)', () => {
    expect(onlyOfType(resources, 'aws:sqs/queue:Queue').inputs.maxMessageSize).toBe(1_048_576);
    expect(topology.payloadLimitBytes).toBeLessThanOrEqual(1_048_576);
  });

  // Written out: the collector's failures go to the manager, which redrives the hop.
  const onFailure: Record<FunctionId, () => string> = {
    manager: dlqArn,
    collector: () => functionArn('manager'),
    parser: dlqArn,
  };

  it.each(FUNCTION_IDS)('%s sends events that ran out of retries to its destination', (id) => {
    const configs = ofType(
      resources,
      'aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig',
    ).filter((config) => config.inputs.functionName === functionName(id));
    expect(configs).toHaveLength(1);
    expect(configs[0]?.inputs).toMatchObject({
      maximumRetryAttempts: topology.functions[id].async.maxRetryAttempts,
      maximumEventAgeInSeconds: topology.functions[id].async.maxEventAgeSeconds,
      destinationConfig: { onFailure: { destination: onFailure[id]() } },
    });
    const toQueue = onFailure[id]() === dlqArn();
    expect(resourcesFor(rolePolicy(id), 'sqs:SendMessage')).toEqual(toQueue ? [dlqArn()] : []);
    if (!toQueue) {
      expect(resourcesFor(rolePolicy(id), 'lambda:InvokeFunction')).toContain(onFailure[id]());
    }
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

  it('gives no role access to SSM, Secrets Manager or KMS when the manifest references no secret', () => {
    const secretActions = /^(ssm|secretsmanager|kms):/;
    for (const policy of policies()) {
      for (const statement of policyOf(policy).Statement) {
        expect(
          asList(statement.Action).filter((a) => secretActions.test(a)),
          policy.name,
        ).toEqual([]);
      }
    }
    expect(policies().map((p) => p.name)).not.toContain('fanout-collector-secrets');
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
      ArnLike: {
        'aws:SourceArn': `arn:aws:scheduler:${REGION}:${ACCOUNT_ID}:schedule-group/default`,
      },
    });
    // The trust names the group the schedule is in.
    expect(onlyOfType(resources, 'aws:scheduler/schedule:Schedule').inputs.groupName).toBe(
      'default',
    );
  });

  // The design, written out rather than read from the topology, so a topology
  // change that widens fan-out fails here.
  const mayInvoke: Record<FunctionId, FunctionId[]> = {
    manager: ['collector', 'manager'],
    // Its continuations, and the manager as its on-failure destination.
    collector: ['collector', 'manager'],
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

  // The bucket layout split by owner, written out rather than read from grants.ts,
  // so a change that widens a grant fails here.
  const objectAccess: Record<FunctionId, { reads: string[]; writes: string[] }> = {
    manager: {
      reads: [
        'manifest/sources.json',
        'state/sources.json',
        'state/off-schedule.json',
        'runs/*/run.json',
        'runs/*/results/*',
        'runs/*/failures/*',
        'runs/*/redispatches/*',
        'raw/packs/*',
      ],
      writes: [
        'runs/*/run.json',
        'runs/*/failures/*',
        'runs/*/redispatches/*',
        'runs/_invalid/*',
        'state/off-schedule.json',
      ],
    },
    collector: {
      // raw/packs/*: the header of a hop's pack another attempt already stored.
      reads: ['runs/*/partial/*', 'raw/packs/*'],
      writes: ['raw/*', 'runs/*/failures/*', 'runs/_invalid/*', 'runs/*/partial/*'],
    },
    parser: { reads: ['raw/*'], writes: ['parsed/*', 'quarantine/*', 'runs/_invalid/*'] },
  };
  const reads = (id: FunctionId) => keyPatternsOf(resourcesFor(rolePolicy(id), 's3:GetObject'));
  const writes = (id: FunctionId) => keyPatternsOf(resourcesFor(rolePolicy(id), 's3:PutObject'));
  const mayWrite = (id: FunctionId, key: string) => writes(id).some((p) => keyMatches(p, key));
  const mayRead = (id: FunctionId, key: string) => reads(id).some((p) => keyMatches(p, key));

  it.each(FUNCTION_IDS)('%s reads and writes only its own keys', (id) => {
    expect(reads(id).sort()).toEqual([...objectAccess[id].reads].sort());
    expect(writes(id).sort()).toEqual([...objectAccess[id].writes].sort());
    expect(resourcesFor(rolePolicy(id), 's3:AbortMultipartUpload').sort()).toEqual(
      resourcesFor(rolePolicy(id), 's3:PutObject').sort(),
    );
  });

  it.each(FUNCTION_IDS)('%s grants stay inside the prefixes its topology entry names', (id) => {
    const spec = topology.functions[id];
    const inside = (pattern: string, prefixes: readonly string[]) =>
      prefixes.some((prefix) => literalHead(pattern).startsWith(prefix));
    for (const pattern of reads(id)) expect(inside(pattern, spec.reads), pattern).toBe(true);
    for (const pattern of writes(id)) expect(inside(pattern, spec.writes), pattern).toBe(true);
  });

  it('lets only the collector delete, and only the partial downloads it stores to resume', () => {
    const deletes = (id: FunctionId) =>
      keyPatternsOf(resourcesFor(rolePolicy(id), 's3:DeleteObject')).sort();
    expect(deletes('collector')).toEqual(['runs/*/partial/*']);
    expect(deletes('manager')).toEqual([]);
    expect(deletes('parser')).toEqual([]);
  });

  it('lets each function write the keys the contract builds for it, and no other function’s', () => {
    const run = '20261129T101000Z';
    const scheduledAt = '2026-11-29T10:10:00Z';
    const pack = rawPackKey({ runId: run, scheduledAt, batchId: 'b00001', hop: 0 });
    const single = rawKey({
      sourceId: 'weather',
      scheduledAt,
      runId: run,
      page: 0,
      extension: 'json',
    });
    const owners: [string, FunctionId[]][] = [
      [runManifestKey(run), ['manager']],
      [batchFailureKey(run, 'b00001', 1), ['manager', 'collector']],
      // Hop records of earlier versions: read by the manager, written by nothing now.
      [batchResultKey(run, 'b00001', 0), []],
      [pack, ['collector']],
      [single, ['collector']],
      [parsedKeyForRaw(pack), ['parser']],
      [quarantineKeyForEntry(pack, 'weather', 0), ['parser']],
      [quarantineReportKeyForRaw(single), ['parser']],
      [invalidEventKey(scheduledAt, 'req-1'), ['manager', 'collector', 'parser']],
      [redispatchKey(run, 'b00001', 0), ['manager']],
      [sourceStateKey(), []],
      [topology.manifestKey, []],
      [`${PREFIXES.runs}${run}/parses/raw.json`, []],
    ];
    for (const [key, writers] of owners) {
      const actual = FUNCTION_IDS.filter((id) => mayWrite(id, key));
      expect(actual, key).toEqual(writers);
    }
  });

  it('lets the manager read the manifest, old state, run manifests, results and packs', () => {
    const run = '20261129T101000Z';
    const pack = rawPackKey({
      runId: run,
      scheduledAt: '2026-11-29T10:10:00Z',
      batchId: 'b00002',
      hop: 3,
    });
    for (const key of [
      topology.manifestKey,
      sourceStateKey(),
      runManifestKey(run),
      batchResultKey(run, 'b00002', 3),
      pack,
    ]) {
      expect(mayRead('manager', key), key).toBe(true);
    }
    expect(mayRead('manager', parsedKeyForRaw(pack))).toBe(false);
    expect(mayRead('parser', pack)).toBe(true);
    expect(mayRead('parser', runManifestKey(run))).toBe(false);
  });

  it.each(FUNCTION_IDS)('%s may list the bucket, unconditioned, exactly when it reads', (id) => {
    // A GetObject on a missing key answers 404 only to a caller with s3:ListBucket on the
    // bucket, else 403; a prefix condition may not count, since GetObject sends no prefix.
    const listing = rolePolicy(id).Statement.filter((s) =>
      asList(s.Action).includes('s3:ListBucket'),
    );
    if (objectAccess[id].reads.length === 0) {
      expect(listing).toEqual([]);
    } else {
      expect(listing).toHaveLength(1);
      expect(listing[0]?.Effect).toBe('Allow');
      expect(asList(listing[0]?.Resource)).toEqual([bucketArn()]);
      expect(listing[0]?.Condition).toBeUndefined();
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
      for (const written of keyPatternsOf(resourcesFor(rolePolicy(id), 's3:PutObject'))) {
        // Every key the pattern matches starts with its literal head.
        expect(prefixesOverlap(literalHead(written), PREFIXES.raw), `${id} writes ${written}`).toBe(
          false,
        );
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
