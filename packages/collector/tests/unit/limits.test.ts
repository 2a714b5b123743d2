import {
  EPHEMERAL_STORAGE_BYTES,
  MAX_SOURCE_BYTES,
  maxSourceBytesFor,
  TMP_RESERVE_BYTES,
  topology,
} from '@fanout/shared';
import { describe, expect, it } from 'vitest';
import { BodyTooLargeError, MaxBytesTooLargeError, SourceTooLargeError } from '../../src/errors.js';
import { type FetchProgress, fetchSource } from '../../src/fetch-source.js';
import { collectBatch } from '../../src/index.js';
import { testDeps } from '../helpers/deps.js';
import { payload, type TaskInput } from '../helpers/payloads.js';
import { fakeS3, type Reply, scriptedTransport } from '../helpers/transport.js';

describe('MAX_SOURCE_BYTES', () => {
  it('lets every concurrent fetch hold its limit in /tmp, with the reserve to spare', () => {
    expect(MAX_SOURCE_BYTES * topology.collectorConcurrency).toBeLessThanOrEqual(
      EPHEMERAL_STORAGE_BYTES - TMP_RESERVE_BYTES,
    );
    expect(MAX_SOURCE_BYTES).toBe(28 * 1024 * 1024);
  });

  it('shrinks as concurrency grows', () => {
    expect(maxSourceBytesFor(32)).toBe(14 * 1024 * 1024);
    expect(maxSourceBytesFor(1)).toBe(EPHEMERAL_STORAGE_BYTES - TMP_RESERVE_BYTES);
  });
});

/** A concurrency at which the per-source limit is about `bytes`. */
function concurrencyForLimit(bytes: number): number {
  return Math.floor((EPHEMERAL_STORAGE_BYTES - TMP_RESERVE_BYTES) / bytes);
}

async function fetchWith(
  task: TaskInput,
  script: (url: URL) => Reply,
  concurrency = topology.collectorConcurrency,
) {
  const transport = scriptedTransport((req) => script(req.url));
  const deps = await testDeps({ transport, settings: { concurrency } });
  const progress: FetchProgress = { attempts: 0, failures: 0, pages: [] };
  const [only] = payload([task]).tasks;
  if (!only) throw new Error('no task');
  const outcome = await fetchSource(only, deps, new AbortController().signal, progress).catch(
    (e: unknown) => e,
  );
  await Promise.all(progress.pages.map((page) => page.body.dispose()));
  return { outcome, transport };
}

describe('per-source byte limit', () => {
  it('refuses a source whose maxBytes is above the limit, before any request', async () => {
    // Act
    const { outcome, transport } = await fetchWith(
      { source: { id: 'huge', url: 'http://api.test/', maxBytes: MAX_SOURCE_BYTES + 1 } },
      () => ({ status: 200, body: 'x' }),
    );

    // Assess
    expect(outcome).toBeInstanceOf(MaxBytesTooLargeError);
    expect((outcome as Error).message).toBe(
      `maxBytes ${MAX_SOURCE_BYTES + 1} is above the collector's limit of ${MAX_SOURCE_BYTES} bytes per source`,
    );
    expect(transport.requests).toHaveLength(0);
  });

  it('accepts a source whose maxBytes is exactly the limit', async () => {
    const { outcome } = await fetchWith(
      { source: { id: 'at-limit', url: 'http://api.test/', maxBytes: MAX_SOURCE_BYTES } },
      () => ({ status: 200, body: 'x' }),
    );
    expect(outcome).toMatchObject({ kind: 'fetched' });
  });

  it('records the refusal as the failed outcome of the task', async () => {
    // Prepare
    const deps = await testDeps({
      s3: fakeS3(),
      transport: scriptedTransport(() => ({ status: 200 })),
    });

    // Act
    const summary = await collectBatch(
      payload([{ source: { id: 'huge', url: 'http://api.test/', maxBytes: 50 * 1024 * 1024 } }]),
      deps,
    );

    // Assess
    expect(summary.result.outcomes[0]).toMatchObject({
      status: 'failed',
      sourceId: 'huge',
      reason: expect.stringContaining(`limit of ${MAX_SOURCE_BYTES} bytes per source`),
    });
  });

  it('holds a source without maxBytes to the limit when the default body size is larger', async () => {
    // Prepare
    const concurrency = concurrencyForLimit(100);
    const limit = maxSourceBytesFor(concurrency);

    // Act
    const { outcome } = await fetchWith(
      { source: { id: 'default', url: 'http://api.test/' } },
      () => ({ status: 200, body: 'x'.repeat(limit + 1) }),
      concurrency,
    );

    // Assess
    expect(outcome).toBeInstanceOf(BodyTooLargeError);
    expect((outcome as BodyTooLargeError).limitBytes).toBe(limit);
  });

  it('holds all pages of a source together to the limit', async () => {
    // Prepare
    const concurrency = concurrencyForLimit(100);
    const limit = maxSourceBytesFor(concurrency);
    const pageBytes = Math.ceil(limit * 0.6);

    // Act
    const { outcome, transport } = await fetchWith(
      { source: { id: 'pages', url: 'http://api.test/1', pagination: { type: 'link-header' } } },
      (url) => ({
        status: 200,
        headers: { link: `</${Number(url.pathname.slice(1)) + 1}>; rel="next"` },
        body: 'x'.repeat(pageBytes),
      }),
      concurrency,
    );

    // Assess
    expect(transport.requests).toHaveLength(2);
    expect(outcome).toBeInstanceOf(SourceTooLargeError);
    expect((outcome as Error).message).toBe(
      `pages together exceed the collector's limit of ${limit} bytes per source`,
    );
  });
});
