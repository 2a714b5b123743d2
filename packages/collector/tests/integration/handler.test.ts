import { batchResultKey, rawPackKey } from '@fanout/shared';
import {
  fakeContext,
  startTestHttp,
  startTestS3,
  type TestHttpServer,
  type TestS3,
} from '@fanout/testkit';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { readBackPack } from '../helpers/packs.js';
import { payload, RUN_ID, SCHEDULED_AT } from '../helpers/payloads.js';

describe('the Lambda handler, configured only by the environment', () => {
  let s3: TestS3;
  let upstream: TestHttpServer;
  let handler: typeof import('../../src/handler.js').handler;

  beforeAll(async () => {
    s3 = await startTestS3();
    upstream = await startTestHttp((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/csv' });
      res.end('a,b\n1,2\n');
    });
    const env: Record<string, string> = {
      ...s3.env,
      AWS_ENDPOINT_URL_LAMBDA: 'http://127.0.0.1:9',
      FANOUT_BUCKET: s3.bucket,
      FANOUT_COLLECTOR_FUNCTION: 'fanout-collector',
      POWERTOOLS_SERVICE_NAME: 'fanout-collector',
      POWERTOOLS_METRICS_NAMESPACE: 'Fanout',
      POWERTOOLS_LOG_LEVEL: 'SILENT',
      POWERTOOLS_METRICS_DISABLED: 'true',
    };
    for (const [name, value] of Object.entries(env)) vi.stubEnv(name, value);
    ({ handler } = await import('../../src/handler.js'));
  });

  afterAll(async () => {
    vi.unstubAllEnvs();
    await upstream.stop();
    await s3.stop();
  });

  it('collects a batch with env-configured SDK clients', async () => {
    const input = payload(
      [{ source: { id: 'table', url: `${upstream.url}/t.csv`, format: 'csv' } }],
      {
        batchId: 'b00042',
      },
    );

    const outcome = await handler(input, fakeContext({ timeoutMs: 60_000 }));

    expect(outcome).toMatchObject({ kind: 'collected', summary: { ok: 1, packEntries: 1 } });
    const key = rawPackKey({ runId: RUN_ID, scheduledAt: SCHEDULED_AT, batchId: 'b00042', hop: 0 });
    const pack = await readBackPack(await s3.getBytes(key));
    expect(pack.bodies.map(String)).toEqual(['a,b\n1,2\n']);
    expect(pack.header.result.outcomes).toEqual([
      expect.objectContaining({ sourceId: 'table', status: 'ok', rawKeys: [key] }),
    ]);
    expect(await s3.listKeys(batchResultKey(RUN_ID, 'b00042', 0))).toEqual([]);
  });

  it('returns normally for a malformed payload and records it', async () => {
    const context = fakeContext();

    const outcome = await handler({ hello: 'world' }, context);

    expect(outcome).toMatchObject({ kind: 'invalid' });
    const [key] = (await s3.listKeys('runs/_invalid/')).filter((k) =>
      k.endsWith(`/${context.awsRequestId}.json`),
    );
    expect(key).toMatch(/^runs\/_invalid\/\d{4}-\d{2}-\d{2}\//);
    if (!key) return;
    expect(await s3.getJson(key)).toMatchObject({
      kind: 'invalid-payload',
      payload: { hello: 'world' },
    });
  });
});
