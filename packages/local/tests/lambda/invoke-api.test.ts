import {
  InvalidRequestContentException,
  InvokeCommand,
  LambdaClient,
  LambdaServiceException,
  ResourceNotFoundException,
} from '@aws-sdk/client-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fn, type Harness, json, startHarness } from './harness.js';

/** The Invoke API against the real @aws-sdk/client-lambda, as the functions call it. */
describe('Invoke API through @aws-sdk/client-lambda', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await startHarness(
      [
        fn('fanout-echo', 'echo', {
          memoryMb: 256,
          env: { AWS_REGION: 'us-east-1', FIXTURE_GREETING: 'hello' },
        }),
        fn('fanout-throws', 'throws', { maxRetryAttempts: 0 }),
      ],
      { asyncPayloadLimitBytes: 2_000 },
    );
  });

  afterAll(async () => {
    await h.stop();
  });

  it('answers RequestResponse with the handler result and a Lambda-shaped context', async () => {
    // Act
    const out = await h.client.send(
      new InvokeCommand({ FunctionName: 'fanout-echo', Payload: JSON.stringify({ n: 1 }) }),
    );

    // Assess
    expect(out.StatusCode).toBe(200);
    expect(out.FunctionError).toBeUndefined();
    expect(out.ExecutedVersion).toBe('$LATEST');
    const body = json(out.Payload) as {
      event: unknown;
      context: Record<string, unknown>;
      env: Record<string, unknown>;
    };
    expect(body.event).toEqual({ n: 1 });
    expect(body.context).toMatchObject({
      functionName: 'fanout-echo',
      functionVersion: '$LATEST',
      memoryLimitInMB: '256',
      invokedFunctionArn: 'arn:aws:lambda:us-east-1:000000000000:function:fanout-echo',
      logGroupName: '/aws/lambda/fanout-echo',
      callbackWaitsForEmptyEventLoop: true,
    });
    expect(body.context.awsRequestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(body.context.awsRequestId).toBe(out.$metadata.requestId);
    const remaining = body.context.remainingTimeInMillis as number;
    expect(remaining).toBeGreaterThan(0);
    expect(remaining).toBeLessThanOrEqual(5_000);
    expect(body.env).toEqual({
      greeting: 'hello',
      region: 'us-east-1',
      functionName: 'fanout-echo',
      parentOnly: null,
    });
  });

  it('passes {} to the handler when the request has no payload', async () => {
    const out = await h.client.send(new InvokeCommand({ FunctionName: 'fanout-echo' }));

    expect((json(out.Payload) as { event: unknown }).event).toEqual({});
  });

  it('accepts a full ARN, a partial ARN and the $LATEST qualifier', async () => {
    const references = [
      'arn:aws:lambda:us-east-1:000000000000:function:fanout-echo',
      '000000000000:function:fanout-echo',
      'fanout-echo:$LATEST',
    ];
    for (const FunctionName of references) {
      const out = await h.client.send(new InvokeCommand({ FunctionName, Payload: '{"ref":1}' }));
      expect(out.StatusCode).toBe(200);
    }
    const qualified = await h.client.send(
      new InvokeCommand({ FunctionName: 'fanout-echo', Qualifier: '$LATEST', Payload: '{}' }),
    );
    expect(qualified.StatusCode).toBe(200);
  });

  it('answers Event with 202 and runs the event later', async () => {
    const out = await h.client.send(
      new InvokeCommand({
        FunctionName: 'fanout-echo',
        InvocationType: 'Event',
        Payload: JSON.stringify({ queued: true }),
      }),
    );
    await h.lambda.drained();

    expect(out.StatusCode).toBe(202);
    expect(out.Payload?.length ?? 0).toBe(0);
    expect(h.lambda.stats()['fanout-echo']?.queued).toBe(0);
  });

  it('answers DryRun with 204 without running the function', async () => {
    const before = h.lambda.stats()['fanout-echo']?.invocations;

    const out = await h.client.send(
      new InvokeCommand({ FunctionName: 'fanout-echo', InvocationType: 'DryRun', Payload: '{}' }),
    );

    expect(out.StatusCode).toBe(204);
    expect(h.lambda.stats()['fanout-echo']?.invocations).toBe(before);
  });

  it('reports a function error with x-amz-function-error and the error as payload', async () => {
    const out = await h.client.send(
      new InvokeCommand({
        FunctionName: 'fanout-throws',
        Payload: JSON.stringify({ reason: 'x' }),
      }),
    );

    expect(out.StatusCode).toBe(200);
    expect(out.FunctionError).toBe('Unhandled');
    const error = json(out.Payload) as { errorType: string; errorMessage: string; trace: string[] };
    expect(error.errorType).toBe('FixtureFailureError');
    expect(error.errorMessage).toBe('failed on purpose: x');
    expect(error.trace[0]).toContain('FixtureFailureError: failed on purpose: x');
  });

  it('raises ResourceNotFoundException for an unknown function, naming its ARN', async () => {
    const error = await h.client
      .send(new InvokeCommand({ FunctionName: 'fanout-missing', Payload: '{}' }))
      .catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(ResourceNotFoundException);
    expect((error as ResourceNotFoundException).$metadata.httpStatusCode).toBe(404);
    expect((error as Error).message).toBe(
      'Function not found: arn:aws:lambda:us-east-1:000000000000:function:fanout-missing',
    );
  });

  it('raises ResourceNotFoundException for a version that does not exist', async () => {
    const error = await h.client
      .send(new InvokeCommand({ FunctionName: 'fanout-echo', Qualifier: '7', Payload: '{}' }))
      .catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(ResourceNotFoundException);
    expect((error as Error).message).toContain('function:fanout-echo:7');
  });

  it('answers RequestEntityTooLargeException for an Event payload over the async limit', async () => {
    const payload = JSON.stringify({ data: 'x'.repeat(2_100) });

    const error = await h.client
      .send(
        new InvokeCommand({
          FunctionName: 'fanout-echo',
          InvocationType: 'Event',
          Payload: payload,
        }),
      )
      .catch((caught: unknown) => caught);

    // AWS's error code, which the JS SDK surfaces by name rather than as a class.
    expect(error).toBeInstanceOf(LambdaServiceException);
    expect((error as LambdaServiceException).name).toBe('RequestEntityTooLargeException');
    expect((error as LambdaServiceException).$metadata.httpStatusCode).toBe(413);
    expect((error as Error).message).toBe(
      `${payload.length} byte payload is too large for the Event invocation type (limit 2000 bytes)`,
    );
  });

  it('keeps the 6 MB limit for RequestResponse', async () => {
    const fits = await h.client.send(
      new InvokeCommand({
        FunctionName: 'fanout-throws',
        Payload: JSON.stringify({ reason: 'y'.repeat(3_000) }),
      }),
    );
    const error = await h.client
      .send(
        new InvokeCommand({
          FunctionName: 'fanout-echo',
          Payload: JSON.stringify({ data: 'x'.repeat(6_300_000) }),
        }),
      )
      .catch((caught: unknown) => caught);

    expect(fits.StatusCode).toBe(200);
    expect((error as LambdaServiceException).name).toBe('RequestEntityTooLargeException');
    expect((error as Error).message).toBe(
      'Request must be smaller than 6291456 bytes for the InvokeFunction operation',
    );
  });

  it('raises InvalidRequestContentException for a payload that is not JSON', async () => {
    const error = await h.client
      .send(new InvokeCommand({ FunctionName: 'fanout-echo', Payload: '{not json' }))
      .catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(InvalidRequestContentException);
    expect((error as Error).message).toContain('Could not parse request body into json');
  });

  it('serves a client configured only through AWS_ENDPOINT_URL_LAMBDA', async () => {
    const saved = { ...process.env };
    Object.assign(process.env, {
      AWS_ENDPOINT_URL_LAMBDA: h.endpoint,
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'local',
      AWS_SECRET_ACCESS_KEY: 'local',
    });
    const client = new LambdaClient({});
    try {
      const out = await client.send(
        new InvokeCommand({ FunctionName: 'fanout-echo', Payload: '{"via":"env"}' }),
      );

      expect((json(out.Payload) as { event: unknown }).event).toEqual({ via: 'env' });
    } finally {
      client.destroy();
      process.env = saved;
    }
  });

  it('answers other operations with a clear error instead of hanging', async () => {
    const res = await fetch(`${h.endpoint}/2015-03-31/functions/fanout-echo`);

    expect(res.status).toBe(404);
    expect(res.headers.get('x-amzn-errortype')).toBe('UnknownOperationException');
    expect(((await res.json()) as { message: string }).message).toContain('only Invoke');
  });
});
