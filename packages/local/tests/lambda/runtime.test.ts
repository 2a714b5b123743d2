import { InvokeCommand } from '@aws-sdk/client-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fn, type Harness, json, startHarness } from './harness.js';

/** The deployed functions target nodejs22.x; locally their workers must run on Node 22 too. */
const LAMBDA_RUNTIME_MAJOR = 22;

describe('the runtime of the local functions', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await startHarness([fn('runtime', 'runtime')]);
  });

  afterAll(async () => {
    await h.stop();
  });

  it("runs function workers on the Lambda runtime's major (Node 22), as pnpm scripts run", async () => {
    const out = await h.client.send(new InvokeCommand({ FunctionName: 'runtime', Payload: '{}' }));
    const reported = json(out.Payload) as { version: string; execPath: string };

    expect(reported.version).toMatch(new RegExp(`^v${LAMBDA_RUNTIME_MAJOR}\\.`));
    expect(reported.version).toBe(process.version);
  });
});
