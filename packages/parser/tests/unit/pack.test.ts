import { Readable } from 'node:stream';
import { S3Client } from '@aws-sdk/client-s3';
import { captureLog, ManualClock } from '@fanout/testkit';
import { describe, expect, it } from 'vitest';
import { DEFAULTS, pageName, parsePack, UnreadablePackError } from '../../src/index.js';
import { entryLine, freshPackKey, packBytes } from '../helpers/packs.js';

/** A client whose every request fails: these cases must end before any request is sent. */
function unusedClient(): S3Client {
  const client = new S3Client({ region: 'us-east-1', endpoint: 'http://127.0.0.1:9' });
  client.middlewareStack.add(
    () => async () => {
      throw new Error('no S3 request expected');
    },
    { step: 'initialize' },
  );
  return client;
}

function deps() {
  return {
    s3: unusedClient(),
    log: captureLog(),
    clock: new ManualClock(0),
    config: { bucket: 'b', ...DEFAULTS },
  };
}

const ENTRY = entryLine({ sourceId: 'a', format: 'ndjson', body: '{"x":1}\n'.repeat(2000) });

describe('parsePack', () => {
  it('rethrows a failed read of the pack as it is (a fault to retry), not as an unreadable pack', async () => {
    // Prepare
    const { key, batchId, hop } = freshPackKey();
    const bytes = packBytes(batchId, hop, [ENTRY, ENTRY]);
    const reset = Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
    const body = new Readable({
      read() {
        this.push(bytes.subarray(0, bytes.length - 40));
        this.destroy(reset);
      },
    });

    // Act
    const result = parsePack(deps(), key, body, 'parsed/x.ndjson.gz');

    // Assess
    await expect(result).rejects.toBe(reset);
  });

  it('calls a pack without a valid header unreadable, with the pack line', async () => {
    // Prepare
    const { key } = freshPackKey();
    const { gzipSync } = await import('node:zlib');
    const body = Readable.from([gzipSync('{"kind":"something-else"}\n')]);

    // Act
    const result = await parsePack(deps(), key, body, 'parsed/x.ndjson.gz');

    // Assess
    expect(result.status).toBe('unreadable');
    if (result.status !== 'unreadable') return;
    expect(result.error).toBeInstanceOf(UnreadablePackError);
    expect(result.error.message).toMatch(
      /^unreadable pack: invalid pack header: .*\(pack line 1\)$/,
    );
    expect(result.error.location).toEqual({ line: 1 });
  });
});

describe('pageName', () => {
  it('names a page as the quarantine keys do', () => {
    expect(pageName('src-1', 7)).toBe('src-1-p0007');
    expect(pageName('src-1', 12345)).toBe('src-1-p12345');
  });
});
