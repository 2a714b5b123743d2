import { performance } from 'node:perf_hooks';
import {
  type CollectorPayload,
  type DispatchPartEvent,
  parseCollectorPayload,
  type RunManifest,
  runManifestKey,
} from '@fanout/shared';
import { startTestS3, type TestS3 } from '@fanout/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULTS, handleManagerEvent, loadConfig, planBatches } from '../../src/index.js';
import { SCHEDULED, SCHEDULED_RUN_ID, testDeps } from '../helpers/deps.js';
import { FakeLambda } from '../helpers/fakes.js';
import { RUN, sources } from '../helpers/sources.js';

const SOURCES = 100_000;

let s3: TestS3;
beforeAll(async () => {
  s3 = await startTestS3();
});
afterAll(async () => {
  await s3.stop();
});

// The largest case in the suite: seconds alone, far longer while turbo runs every package at once.
describe('a 100,000-source run', { timeout: 600_000 }, () => {
  it('plans 100k sources with the default settings (timing reported, not asserted)', () => {
    const all = sources(SOURCES);
    const config = loadConfig({ FANOUT_BUCKET: 'b', FANOUT_COLLECTOR_FUNCTION: 'c' });

    const started = performance.now();
    const plan = planBatches({ ...RUN, sources: all, state: {}, settings: config });
    const elapsedMs = performance.now() - started;

    console.info(
      `planned ${SOURCES} sources into ${plan.batches.length} batches in ${elapsedMs.toFixed(0)} ms`,
    );
    expect(plan.batches.reduce((n, b) => n + b.tasks.length, 0)).toBe(SOURCES);
    for (const batch of plan.batches) {
      expect(batch.payloadBytes).toBeLessThanOrEqual(
        DEFAULTS.payloadLimitBytes - DEFAULTS.payloadMarginBytes,
      );
      expect(batch.estimateMs).toBeLessThanOrEqual(config.batchBudgetMs);
    }
  });

  it('is planned once and dispatched through a two-level fan-out, every source exactly once', async () => {
    // Prepare: the manifest in S3, and a Lambda client that records every Invoke.
    await s3.putJson('manifest/sources.json', {
      version: 1,
      sources: sources(SOURCES).map((s) => ({ id: s.id, url: s.url, format: s.format })),
    });
    const lambda = new FakeLambda();
    const env = { FANOUT_MAX_BATCHES_PER_MANAGER: '20' };

    // Act: the scheduled invocation, then each dispatch part it handed off.
    const started = performance.now();
    const top = await handleManagerEvent(
      SCHEDULED,
      { awsRequestId: 'top' },
      testDeps(s3, lambda, env),
    );
    const partEvents = lambda.calls
      .filter((call) => call.functionName === 'fanout-manager')
      .map((call) => call.payload as DispatchPartEvent);
    for (const event of partEvents) {
      await handleManagerEvent(
        event,
        { awsRequestId: `part-${event.part}` },
        testDeps(s3, lambda, env),
      );
    }
    const elapsedMs = performance.now() - started;

    // Assess
    const run = await s3.getJson<RunManifest>(runManifestKey(SCHEDULED_RUN_ID));
    const batches = run.batches.length;
    console.info(
      `100k run: ${batches} batches, ${partEvents.length} dispatch parts, ${lambda.calls.length} invokes, ${elapsedMs.toFixed(0)} ms end to end`,
    );
    expect(top).toMatchObject({
      outcome: 'dispatched',
      tasks: SOURCES,
      parts: Math.ceil(batches / 20) - 1,
    });
    expect(run).toMatchObject({ status: 'planned', plannedBy: 'top' });
    expect(batches).toBeGreaterThan(20);
    expect(partEvents.map((e) => e.part)).toEqual(
      Array.from({ length: partEvents.length }, (_, i) => i + 1),
    );
    expect(
      partEvents.every((e) => e.type === 'fanout.dispatch' && e.runId === SCHEDULED_RUN_ID),
    ).toBe(true);
    expect(
      lambda.calls
        .filter((c) => c.functionName === 'fanout-manager')
        .every((c) => c.invocationType === 'Event'),
    ).toBe(true);

    const payloads: CollectorPayload[] = lambda.calls
      .filter((call) => call.functionName === 'fanout-collector')
      .map((call) => parseCollectorPayload(call.payload));
    expect(payloads).toHaveLength(batches);
    expect(new Set(payloads.map((p) => p.batchId)).size).toBe(batches);
    const seen = new Set<string>();
    let repeats = 0;
    for (const payload of payloads) {
      for (const task of payload.tasks) {
        if (seen.has(task.source.id)) repeats += 1;
        seen.add(task.source.id);
      }
      const planned = run.batches.find((b) => b.batchId === payload.batchId);
      expect(payload.tasks.map((t) => t.source.id)).toEqual(planned?.sourceIds);
      expect(Buffer.byteLength(JSON.stringify(payload))).toBeLessThanOrEqual(
        DEFAULTS.payloadLimitBytes,
      );
    }
    expect(repeats).toBe(0);
    expect(seen.size).toBe(SOURCES);
  });
});
