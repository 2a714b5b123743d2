import { strict as assert } from 'node:assert';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import type { CaseContext, ConformanceCase } from './case.js';

function lambdaOf(ctx: CaseContext): LambdaClient {
  assert.ok(ctx.lambdaEndpoint, 'the target has no Lambda endpoint');
  return new LambdaClient({
    endpoint: ctx.lambdaEndpoint,
    region: ctx.region,
    credentials: ctx.credentials,
    maxAttempts: 1,
  });
}

async function withLambda<T>(
  ctx: CaseContext,
  use: (client: LambdaClient, name: string) => Promise<T>,
): Promise<T> {
  const client = lambdaOf(ctx);
  assert.ok(ctx.functionName, 'the target has no function');
  try {
    return await use(client, ctx.functionName);
  } finally {
    client.destroy();
  }
}

async function failure(promise: Promise<unknown>): Promise<{ status?: number; name: string }> {
  try {
    await promise;
  } catch (error) {
    const e = error as { name?: string; $metadata?: { httpStatusCode?: number } };
    return { status: e.$metadata?.httpStatusCode, name: e.name ?? String(error) };
  }
  assert.fail('the request succeeded; AWS refuses it');
}

const payload = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));

export const lambdaCases: readonly ConformanceCase[] = [
  {
    id: 'lambda.invoke.unknown-function',
    service: 'Lambda',
    documented: 'Invoke of a function that does not exist: 404 ResourceNotFoundException',
    run: (ctx) =>
      withLambda(ctx, async (client) => {
        assert.deepEqual(
          await failure(
            client.send(
              new InvokeCommand({
                FunctionName: 'conformance-no-such-function',
                InvocationType: 'DryRun',
              }),
            ),
          ),
          { status: 404, name: 'ResourceNotFoundException' },
        );
      }),
  },
  {
    id: 'lambda.invoke.dry-run',
    service: 'Lambda',
    documented: 'InvocationType DryRun: 204, by name and by ARN',
    run: (ctx) =>
      withLambda(ctx, async (client, name) => {
        for (const FunctionName of [name, ctx.functionArn ?? name]) {
          const out = await client.send(
            new InvokeCommand({ FunctionName, InvocationType: 'DryRun', Payload: payload({}) }),
          );
          assert.equal(out.StatusCode, 204, FunctionName);
        }
      }),
  },
  {
    id: 'lambda.invoke.unknown-qualifier',
    service: 'Lambda',
    documented:
      'Invoke with a qualifier (version or alias) that does not exist: 404 ResourceNotFoundException',
    run: (ctx) =>
      withLambda(ctx, async (client, name) => {
        assert.deepEqual(
          await failure(
            client.send(
              new InvokeCommand({
                FunctionName: name,
                Qualifier: 'no-such-alias',
                InvocationType: 'DryRun',
              }),
            ),
          ),
          { status: 404, name: 'ResourceNotFoundException' },
        );
      }),
  },
  {
    id: 'lambda.invoke.not-json',
    service: 'Lambda',
    documented: 'a payload that is not JSON: 400 InvalidRequestContentException',
    run: (ctx) =>
      withLambda(ctx, async (client, name) => {
        assert.deepEqual(
          await failure(
            client.send(
              new InvokeCommand({
                FunctionName: name,
                InvocationType: 'Event',
                Payload: new TextEncoder().encode('{not json'),
              }),
            ),
          ),
          { status: 400, name: 'InvalidRequestContentException' },
        );
      }),
  },
  {
    id: 'lambda.invoke.event-too-large',
    service: 'Lambda',
    documented: 'an Event payload over 1 MB: 413 RequestEntityTooLargeException',
    run: (ctx) =>
      withLambda(ctx, async (client, name) => {
        const big = payload({ data: 'x'.repeat(1_100_000) });
        assert.deepEqual(
          await failure(
            client.send(
              new InvokeCommand({ FunctionName: name, InvocationType: 'Event', Payload: big }),
            ),
          ),
          { status: 413, name: 'RequestEntityTooLargeException' },
        );
      }),
  },
];
