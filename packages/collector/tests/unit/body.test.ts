import { createHash } from 'node:crypto';
import { mkdtemp, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BodyTooLargeError, collectBatch, readBody } from '../../src/index.js';
import { testDeps } from '../helpers/deps.js';
import { payload } from '../helpers/payloads.js';
import { fakeS3, scriptedTransport } from '../helpers/transport.js';

async function* chunks(...parts: string[]) {
  for (const part of parts) yield Buffer.from(part);
}

describe('readBody', () => {
  it('keeps a small body in memory with its hash', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'body-'));
    const body = await readBody(chunks('ab', 'cd'), {
      sourceId: 's',
      maxBytes: 10,
      memoryBufferBytes: 8,
      tmpDir: dir,
    });

    expect(body).toMatchObject({
      bytes: 4,
      spooled: false,
      sha256: createHash('sha256').update('abcd').digest('hex'),
    });
    expect(await body.text()).toBe('abcd');
    expect(await readdir(dir)).toEqual([]);
  });

  it('spools past the memory buffer and removes the file on dispose', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'body-'));
    const body = await readBody(chunks('abc', 'def', 'ghi'), {
      sourceId: 's',
      maxBytes: 100,
      memoryBufferBytes: 4,
      tmpDir: dir,
    });

    expect(body).toMatchObject({ bytes: 9, spooled: true });
    expect(await body.text()).toBe('abcdefghi');
    expect(await readdir(dir)).toHaveLength(1);
    await body.dispose();
    expect(await readdir(dir)).toEqual([]);
  });

  it('fails while streaming once the limit is passed, leaving no temp file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'body-'));
    const error = await readBody(chunks('abc', 'def', 'ghi', 'never read'), {
      sourceId: 'big',
      maxBytes: 8,
      memoryBufferBytes: 4,
      tmpDir: dir,
    }).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(BodyTooLargeError);
    expect((error as Error).message).toBe('body exceeds 8 bytes');
    expect(await readdir(dir)).toEqual([]);
  });
});

describe('body size limit in the collector', () => {
  it('uses the source maxBytes over the setting and records the failure without storing a page', async () => {
    const transport = scriptedTransport(() => ({
      status: 200,
      body: 'x'.repeat(100),
      chunkBytes: 10,
    }));
    const s3 = fakeS3();
    const deps = await testDeps({ s3, transport, settings: { maxBodyBytes: 1_000 } });

    const summary = await collectBatch(
      payload([{ source: { id: 'capped', url: 'http://upstream.test/', maxBytes: 50 } }]),
      deps,
    );

    expect(transport.requests).toHaveLength(1);
    expect(summary.result.outcomes[0]).toMatchObject({
      status: 'failed',
      reason: 'body exceeds 50 bytes',
      attempts: 1,
    });
    // Only the hop's record: a pack holding the header alone.
    expect(s3.puts.map((p) => p.Key)).toEqual([summary.recordKey]);
    expect(summary.packEntries).toBe(0);
  });

  it('applies FANOUT_MAX_BODY_BYTES when the source sets none', async () => {
    const transport = scriptedTransport(() => ({ status: 200, body: 'x'.repeat(100) }));
    const deps = await testDeps({ s3: fakeS3(), transport, settings: { maxBodyBytes: 99 } });

    const summary = await collectBatch(
      payload([{ source: { id: 'capped', url: 'http://upstream.test/' } }]),
      deps,
    );

    expect(summary.result.outcomes[0]).toMatchObject({
      status: 'failed',
      reason: 'body exceeds 99 bytes',
    });
  });
});
