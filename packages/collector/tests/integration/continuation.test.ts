import { LambdaClient } from '@aws-sdk/client-lambda';
import {
  batchFailureKey,
  type CollectorPayload,
  parseCollectorPayload,
  rawPackKey,
} from '@fanout/shared';
import {
  fakeContext,
  startTestHttp,
  startTestS3,
  type TestHttpServer,
  type TestS3,
} from '@fanout/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { handleCollectorEvent, lambdaContinuationInvoker } from '../../src/index.js';
import { testDeps } from '../helpers/deps.js';
import { readBackPack } from '../helpers/packs.js';
import { payload, RUN_ID, SCHEDULED_AT } from '../helpers/payloads.js';

const packKey = (hop: number) =>
  rawPackKey({ runId: RUN_ID, scheduledAt: SCHEDULED_AT, batchId: 'b00001', hop });

const FUNCTION = 'fanout-collector';
const INVOKE_PATH = `/2015-03-31/functions/${FUNCTION}/invocations`;

describe('continuation through the Lambda Invoke API', () => {
  let s3: TestS3;
  let upstream: TestHttpServer;
  let lambdaApi: TestHttpServer;
  let lambda: LambdaClient;
  let slowAnswers = false;
  const invocations: { type: string | undefined; body: string; rawKeysThen: string[] }[] = [];

  beforeAll(async () => {
    s3 = await startTestS3();
    upstream = await startTestHttp((req, res) => {
      if (req.url?.startsWith('/slow') && !slowAnswers) return; // never answers: held open
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ path: req.url }));
    });
    // A local stand-in for the Lambda service's Invoke endpoint, as the SDK calls it.
    lambdaApi = await startTestHttp(async (req, res) => {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      if (req.method === 'POST' && req.url === INVOKE_PATH) {
        const type = req.headers['x-amz-invocation-type'];
        invocations.push({
          type: Array.isArray(type) ? type[0] : type,
          body: Buffer.concat(chunks).toString(),
          // What the invoking hop had stored when its continuation arrived.
          rawKeysThen: await s3.listKeys('raw/'),
        });
        res.writeHead(202);
        res.end();
        return;
      }
      res.writeHead(404, {
        'x-amzn-errortype': 'ResourceNotFoundException',
        'content-type': 'application/json',
      });
      res.end(JSON.stringify({ message: `Function not found: ${req.url}` }));
    });
    lambda = new LambdaClient({
      endpoint: lambdaApi.url,
      region: 'us-east-1',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
      maxAttempts: 1,
    });
  });

  afterAll(async () => {
    lambda.destroy();
    await upstream.stop();
    await lambdaApi.stop();
    await s3.stop();
  });

  it('hands unfinished work to the next hop when time runs out, and the next hop finishes it', async () => {
    // Prepare: 3 s left, abort at 1.5 s; the second source never answers in this hop.
    const input = payload([
      { source: { id: 'first', url: `${upstream.url}/first` }, estimateMs: 100 },
      { source: { id: 'slow', url: `${upstream.url}/slow`, timeoutMs: 60_000 }, estimateMs: 100 },
      { source: { id: 'third', url: `${upstream.url}/third` }, estimateMs: 100 },
      { source: { id: 'fourth', url: `${upstream.url}/fourth` }, estimateMs: 100 },
    ]);
    const settings = { concurrency: 1, safetyMarginMs: 1_500, hardDeadlineMs: 1_500 };
    const hop0 = await testDeps({
      s3: s3.client,
      bucket: s3.bucket,
      context: fakeContext({ timeoutMs: 3_000 }),
      settings,
      invokeContinuation: lambdaContinuationInvoker(lambda, FUNCTION),
    });

    // Act: the first hop runs out of time.
    const first = await handleCollectorEvent(input, hop0);

    // Assess: the continuation went out as an async Invoke with the unfinished tasks.
    expect(first.kind).toBe('collected');
    expect(invocations).toHaveLength(1);
    expect(invocations[0]?.type).toBe('Event');
    const continuation: CollectorPayload = parseCollectorPayload(
      JSON.parse(invocations[0]?.body ?? ''),
    );
    // The cut task carries what it tried, so the next hop counts on from there; the
    // others were never started.
    const [slow, ...notStarted] = input.tasks.slice(1);
    expect(continuation).toEqual({
      ...input,
      hop: 1,
      tasks: [
        {
          ...slow,
          tried: {
            attempts: 1,
            failures: 0,
            lastError: expect.stringMatching(
              /^no complete response \d+ ms into a request when the hop's deadline came$/,
            ),
          },
        },
        ...notStarted,
      ],
    });
    // The hop's pack (its one record) was stored before the next hop was invoked.
    expect(invocations[0]?.rawKeysThen).toEqual([packKey(0)]);
    const h0 = (await readBackPack(await s3.getBytes(packKey(0)))).header;
    expect(h0).toMatchObject({ hop: 0, entries: 1 });
    expect(h0.result.outcomes.map((o) => [o.sourceId, o.status])).toEqual([['first', 'ok']]);
    expect(h0.result.continued).toEqual(['slow', 'third', 'fourth']);

    // Act: Lambda delivers the continuation; the upstream is responsive now.
    slowAnswers = true;
    const hop1 = await testDeps({
      s3: s3.client,
      bucket: s3.bucket,
      context: fakeContext({ timeoutMs: 60_000 }),
      settings: { concurrency: 2 },
      invokeContinuation: lambdaContinuationInvoker(lambda, FUNCTION),
    });
    const second = await handleCollectorEvent(JSON.parse(invocations[0]?.body ?? ''), hop1);

    // Assess: every task has an outcome and its page in a pack; nothing was continued
    // again. The continuation wrote its own pack beside the first hop's.
    expect(second.kind).toBe('collected');
    const h1 = await readBackPack(await s3.getBytes(packKey(1)));
    expect(h1.header.result.outcomes.map((o) => [o.sourceId, o.status])).toEqual([
      ['slow', 'ok'],
      ['third', 'ok'],
      ['fourth', 'ok'],
    ]);
    expect(h1.header.result.continued).toEqual([]);
    expect(h1.bodies.map(String).sort()).toEqual([
      '{"path":"/fourth"}',
      '{"path":"/slow"}',
      '{"path":"/third"}',
    ]);
    expect(invocations).toHaveLength(1);
    expect(await s3.listKeys('raw/')).toEqual([packKey(0), packKey(1)]);
  });

  it('records a continuation the Invoke API rejects, with a payload to replay', async () => {
    // The whole invocation (5 s) is inside the 6 s safety margin: no task starts, all continue.
    const input = payload(
      [{ source: { id: 'late', url: `${upstream.url}/late` }, estimateMs: 10_000 }],
      { batchId: 'b00009' },
    );
    const deps = await testDeps({
      s3: s3.client,
      bucket: s3.bucket,
      context: fakeContext({ timeoutMs: 5_000 }),
      settings: { safetyMarginMs: 6_000, hardDeadlineMs: 500 },
      invokeContinuation: lambdaContinuationInvoker(lambda, 'no-such-function'),
    });

    const outcome = await handleCollectorEvent(input, deps);

    const key = batchFailureKey(RUN_ID, 'b00009', 1);
    expect(outcome).toMatchObject({ kind: 'collected', summary: { continuationFailureKey: key } });
    // Nothing was packed, so the hop's record is a pack holding the header alone, naming the task.
    const record = rawPackKey({
      runId: RUN_ID,
      scheduledAt: SCHEDULED_AT,
      batchId: 'b00009',
      hop: 0,
    });
    expect((await readBackPack(await s3.getBytes(record))).header).toMatchObject({
      entries: 0,
      result: { outcomes: [], continued: ['late'] },
    });
    expect(await s3.getJson(key)).toMatchObject({
      kind: 'continuation-failed',
      sourceIds: ['late'],
      reason: expect.stringContaining('ResourceNotFoundException'),
      payload: { ...input, hop: 1 },
    });
  });
});
