import { strict as assert } from 'node:assert';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { GetParameterCommand, GetParametersCommand, SSMClient } from '@aws-sdk/client-ssm';
import type { CaseContext, ConformanceCase, Seeded } from './case.js';

async function withSsm<T>(
  ctx: CaseContext,
  use: (client: SSMClient, seeded: Seeded) => Promise<T>,
): Promise<T> {
  assert.ok(ctx.ssmEndpoint && ctx.seeded, 'the target has no SSM endpoint');
  const client = new SSMClient({
    endpoint: ctx.ssmEndpoint,
    region: ctx.region,
    credentials: ctx.credentials,
    maxAttempts: 1,
  });
  try {
    return await use(client, ctx.seeded);
  } finally {
    client.destroy();
  }
}

async function withSecrets<T>(
  ctx: CaseContext,
  use: (client: SecretsManagerClient, seeded: Seeded) => Promise<T>,
): Promise<T> {
  assert.ok(ctx.secretsEndpoint && ctx.seeded, 'the target has no Secrets Manager endpoint');
  const client = new SecretsManagerClient({
    endpoint: ctx.secretsEndpoint,
    region: ctx.region,
    credentials: ctx.credentials,
    maxAttempts: 1,
  });
  try {
    return await use(client, ctx.seeded);
  } finally {
    client.destroy();
  }
}

async function failure(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    return (error as { name?: string }).name ?? String(error);
  }
  assert.fail('the request succeeded; AWS refuses it');
}

const TOKEN = '/conformance/token';

export const parameterCases: readonly ConformanceCase[] = [
  {
    id: 'ssm.get-parameter.by-name',
    service: 'SSM',
    documented: 'GetParameter by name (WithDecryption): the latest value, its Version and ARN',
    run: (ctx) =>
      withSsm(ctx, async (client, seeded) => {
        const out = await client.send(
          new GetParameterCommand({ Name: TOKEN, WithDecryption: true }),
        );
        assert.equal(out.Parameter?.Value, 'second');
        assert.equal(out.Parameter?.Version, 2);
        assert.equal(out.Parameter?.ARN, seeded.parameterArn(TOKEN));
      }),
  },
  {
    id: 'ssm.get-parameter.by-arn',
    service: 'SSM',
    documented: 'GetParameter accepts the parameter ARN as Name',
    run: (ctx) =>
      withSsm(ctx, async (client, seeded) => {
        const out = await client.send(
          new GetParameterCommand({ Name: seeded.parameterArn(TOKEN), WithDecryption: true }),
        );
        assert.equal(out.Parameter?.Value, 'second');
      }),
  },
  {
    id: 'ssm.get-parameter.by-version',
    service: 'SSM',
    documented: 'GetParameter accepts `name:version`; an unknown version: ParameterVersionNotFound',
    run: (ctx) =>
      withSsm(ctx, async (client) => {
        const out = await client.send(
          new GetParameterCommand({ Name: `${TOKEN}:1`, WithDecryption: true }),
        );
        assert.equal(out.Parameter?.Value, 'first');
        assert.equal(out.Parameter?.Version, 1);
        assert.equal(out.Parameter?.Selector, ':1');
        assert.equal(
          await failure(
            client.send(new GetParameterCommand({ Name: `${TOKEN}:9`, WithDecryption: true })),
          ),
          'ParameterVersionNotFound',
        );
      }),
  },
  {
    id: 'ssm.get-parameter.missing',
    service: 'SSM',
    documented: 'GetParameter of a missing name: ParameterNotFound',
    run: (ctx) =>
      withSsm(ctx, async (client) => {
        assert.equal(
          await failure(client.send(new GetParameterCommand({ Name: '/conformance/none' }))),
          'ParameterNotFound',
        );
      }),
  },
  {
    id: 'ssm.get-parameters.invalid-names',
    service: 'SSM',
    documented:
      'GetParameters returns the found parameters and lists unknown names under InvalidParameters',
    run: (ctx) =>
      withSsm(ctx, async (client) => {
        const out = await client.send(
          new GetParametersCommand({
            Names: [TOKEN, '/conformance/plain', '/conformance/none'],
            WithDecryption: true,
          }),
        );
        assert.deepEqual((out.Parameters ?? []).map((p) => p.Name).sort(), [
          '/conformance/plain',
          TOKEN,
        ]);
        assert.deepEqual(out.InvalidParameters, ['/conformance/none']);
      }),
  },
  {
    id: 'secretsmanager.get-secret-value.by-name-and-arn',
    service: 'SecretsManager',
    documented: 'GetSecretValue by name and by full ARN: the SecretString, AWSCURRENT',
    run: (ctx) =>
      withSecrets(ctx, async (client, seeded) => {
        const name = 'conformance/partner';
        for (const SecretId of [name, await seeded.secretArn(name)]) {
          const out = await client.send(new GetSecretValueCommand({ SecretId }));
          assert.equal(out.SecretString, seeded.secrets[name]);
          assert.equal(out.Name, name);
          assert.deepEqual(out.VersionStages, ['AWSCURRENT']);
        }
      }),
  },
  {
    id: 'secretsmanager.get-secret-value.missing',
    service: 'SecretsManager',
    documented: 'GetSecretValue of a missing secret: ResourceNotFoundException',
    run: (ctx) =>
      withSecrets(ctx, async (client) => {
        assert.equal(
          await failure(client.send(new GetSecretValueCommand({ SecretId: 'conformance/none' }))),
          'ResourceNotFoundException',
        );
      }),
  },
];
