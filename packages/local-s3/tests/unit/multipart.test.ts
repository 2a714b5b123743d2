import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MultipartStore } from '../../src/multipart.js';

let root: string;

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'fanout-multipart-'));
});

afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

async function text(stream: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

describe('MultipartStore.concatenated', () => {
  it('reads many parts in the order asked, with no listener-leak warning', async () => {
    const store = new MultipartStore(root);
    const upload = await store.create('fanout-test', 'parsed/big.ndjson.gz', {});
    const count = 25;
    for (let n = 1; n <= count; n += 1) {
      await store.writePart(
        'fanout-test',
        upload.uploadId,
        n,
        Readable.from([`part ${n};`]),
        () => undefined,
      );
    }
    const warnings: Error[] = [];
    const onWarning = (warning: Error) => warnings.push(warning);
    process.on('warning', onWarning);
    try {
      const order = [3, 1, ...Array.from({ length: count - 3 }, (_, i) => i + 4), 2];
      const body = await text(store.concatenated('fanout-test', upload.uploadId, order));
      // Warnings are emitted on a later tick.
      await new Promise((resolve) => setImmediate(resolve));
      expect(body).toBe(order.map((n) => `part ${n};`).join(''));
      expect(warnings.map((warning) => warning.name)).not.toContain('MaxListenersExceededWarning');
    } finally {
      process.off('warning', onWarning);
    }
  });

  it('fails the stream when a part is missing', async () => {
    const store = new MultipartStore(root);
    const upload = await store.create('fanout-test', 'parsed/gap.ndjson.gz', {});
    await store.writePart('fanout-test', upload.uploadId, 1, Readable.from(['a']), () => undefined);
    await expect(text(store.concatenated('fanout-test', upload.uploadId, [1, 2]))).rejects.toThrow(
      /ENOENT/,
    );
  });
});
