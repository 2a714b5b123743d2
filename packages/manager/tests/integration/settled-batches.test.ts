import { gzipSync } from 'node:zlib';
import { batchFailureKey, batchId, batchResultKey, rawPackKey } from '@fanout/shared';
import { startTestS3, type TestS3 } from '@fanout/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LIST_RECORDS_FROM_BATCHES, settledBatchIds } from '../../src/index.js';

let s3: TestS3;
beforeAll(async () => {
  s3 = await startTestS3();
});
afterAll(async () => {
  await s3.stop();
});

const run = { runId: 'r-7', scheduledAt: '2026-11-29T10:10:00.000Z' };
const batches = (n: number) => Array.from({ length: n }, (_, i) => batchId(i));

/** Counts the S3 commands a client sends, by name. */
function countCommands(): { names: string[]; stop(): void } {
  const names: string[] = [];
  const name = `count-${Math.random().toString(36).slice(2)}`;
  s3.client.middlewareStack.add(
    (next, context) => async (args) => {
      names.push(context.commandName ?? '');
      return next(args);
    },
    { step: 'initialize', name },
  );
  return { names, stop: () => s3.client.middlewareStack.remove(name) };
}

describe('which batches of a run already have a hop-0 record', () => {
  beforeAll(async () => {
    const body = gzipSync('{}\n');
    // b00001: a pack at hop 0; b00002: only a hop-1 pack (its hop 0 has no record);
    // b00003: a batch result of an earlier version; b00004: a failure record; b00005: a
    // pack of ANOTHER run whose id starts with this one's (r-7-b...).
    await s3.putText(rawPackKey({ ...run, batchId: 'b00001', hop: 0 }), body);
    await s3.putText(rawPackKey({ ...run, batchId: 'b00002', hop: 1 }), body);
    await s3.putJson(batchResultKey(run.runId, 'b00003', 0), {});
    await s3.putJson(batchFailureKey(run.runId, 'b00004', 0), {});
    await s3.putText(
      rawPackKey({ runId: 'r-7-b00005', scheduledAt: run.scheduledAt, batchId: 'b00005', hop: 0 }),
      body,
    );
  });

  it.each([
    ['a few batches, by HEAD', LIST_RECORDS_FROM_BATCHES - 1, 'HeadObjectCommand'],
    ['many batches, by listing the record prefixes', 40, 'ListObjectsV2Command'],
  ])('%s', async (_name, count, command) => {
    const counter = countCommands();

    const settled = await settledBatchIds(
      { s3: s3.client, bucket: s3.bucket },
      run,
      batches(count),
    );
    counter.stop();

    expect([...settled].sort()).toEqual(['b00001', 'b00003', 'b00004']);
    expect(new Set(counter.names)).toEqual(new Set([command]));
    if (command === 'ListObjectsV2Command') expect(counter.names).toHaveLength(3);
  });

  it('keeps to the batches asked about', async () => {
    const many = batches(40).filter((id) => id !== 'b00001');

    const settled = await settledBatchIds({ s3: s3.client, bucket: s3.bucket }, run, many);

    expect([...settled].sort()).toEqual(['b00003', 'b00004']);
  });
});
