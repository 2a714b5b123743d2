import { type RunManifest, runManifestKey } from '@fanout/shared';
import { fakeContext, startTestS3, type TestS3 } from '@fanout/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SCHEDULED, SCHEDULED_RUN_ID } from '../helpers/deps.js';
import { type LambdaEndpoint, startLambdaEndpoint } from '../helpers/lambda-endpoint.js';

let s3: TestS3;
let lambda: LambdaEndpoint;
const saved = { ...process.env };

beforeAll(async () => {
  [s3, lambda] = await Promise.all([startTestS3(), startLambdaEndpoint()]);
  // What the local cloud and Lambda give the function: only standard AWS_* and FANOUT_* settings.
  Object.assign(process.env, s3.env, {
    AWS_ENDPOINT_URL_LAMBDA: lambda.url,
    FANOUT_BUCKET: s3.bucket,
    FANOUT_COLLECTOR_FUNCTION: 'fanout-collector',
    FANOUT_MANAGER_FUNCTION: 'fanout-manager',
    POWERTOOLS_METRICS_NAMESPACE: 'Fanout',
    POWERTOOLS_SERVICE_NAME: 'fanout-manager',
    POWERTOOLS_DEV: 'false',
  });
});
afterAll(async () => {
  process.env = saved;
  await Promise.all([s3.stop(), lambda.stop()]);
});

describe('the Lambda handler, configured only by the environment', () => {
  it('runs a scheduled event end to end with unmodified SDK clients', async () => {
    await s3.putJson('manifest/sources.json', {
      sources: [
        { id: 'a', url: 'http://127.0.0.1:9/a', format: 'json' },
        { id: 'b', url: 'http://127.0.0.1:9/b', format: 'csv' },
      ],
    });
    const { handler } = await import('../../src/handler.js');

    const context = fakeContext({ functionName: 'fanout-manager' });
    const result = await handler(SCHEDULED, context);
    // Another delivery of the same tick: another request id.
    const again = await handler(SCHEDULED, fakeContext({ functionName: 'fanout-manager' }));

    expect(result).toMatchObject({
      outcome: 'dispatched',
      runId: SCHEDULED_RUN_ID,
      tasks: 2,
      dispatched: 1,
    });
    expect(again).toMatchObject({ outcome: 'duplicate' });
    expect(lambda.invokes).toHaveLength(1);
    expect(lambda.invokes[0]).toMatchObject({
      functionName: 'fanout-collector',
      invocationType: 'Event',
    });
    const run = await s3.getJson<RunManifest>(runManifestKey(SCHEDULED_RUN_ID));
    expect(run.status).toBe('planned');
    expect(run.plannedBy).toBe(context.awsRequestId);
  });

  it('records an invalid event instead of throwing', async () => {
    const { handler } = await import('../../src/handler.js');
    const result = await handler(
      { nonsense: true },
      fakeContext({ functionName: 'fanout-manager' }),
    );
    expect(result).toMatchObject({ outcome: 'invalid' });
    const keys = await s3.listKeys('runs/_invalid/');
    expect(keys).toHaveLength(1);
  });
});
