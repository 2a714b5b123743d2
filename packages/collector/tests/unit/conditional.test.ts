import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { collectBatch } from '../../src/index.js';
import { testDeps } from '../helpers/deps.js';
import { payload } from '../helpers/payloads.js';
import { fakeS3, scriptedTransport } from '../helpers/transport.js';

const BODY = '{"a":1}';
const BODY_SHA = createHash('sha256').update(BODY).digest('hex');
const source = { id: 'cond', url: 'http://upstream.test/data.json' };

describe('conditional fetch', () => {
  it('sends the stored validators and treats 304 as unchanged without storing a page', async () => {
    // Prepare
    const transport = scriptedTransport(() => ({ status: 304, headers: { etag: '"v2"' } }));
    const s3 = fakeS3();
    const deps = await testDeps({ s3, transport });
    const previous = {
      etag: '"v1"',
      lastModified: 'Tue, 24 Nov 2026 10:00:00 GMT',
      sha256: BODY_SHA,
    };

    // Act
    const summary = await collectBatch(payload([{ source, previous }]), deps);

    // Assess
    expect(transport.requests[0]?.headers).toMatchObject({
      'if-none-match': '"v1"',
      'if-modified-since': 'Tue, 24 Nov 2026 10:00:00 GMT',
    });
    expect(summary.result.outcomes[0]).toMatchObject({
      status: 'unchanged',
      httpStatus: 304,
      attempts: 1,
      validators: { etag: '"v2"', lastModified: previous.lastModified, sha256: BODY_SHA },
    });
    // Only the hop's record: a pack holding the header alone.
    expect(s3.puts.map((p) => p.Key)).toEqual([summary.recordKey]);
    expect(summary.packEntries).toBe(0);
  });

  it('sends no conditional headers for a source without state', async () => {
    const transport = scriptedTransport(() => ({ status: 404 }));
    const deps = await testDeps({ s3: fakeS3(), transport });

    await collectBatch(payload([{ source }]), deps);

    expect(transport.requests[0]?.headers['if-none-match']).toBeUndefined();
    expect(transport.requests[0]?.headers['if-modified-since']).toBeUndefined();
  });

  it('treats a 200 whose body hash equals the stored one as unchanged (no page stored)', async () => {
    const transport = scriptedTransport(() => ({
      status: 200,
      headers: { etag: '"v3"' },
      body: BODY,
    }));
    const s3 = fakeS3();
    const deps = await testDeps({ s3, transport });

    const summary = await collectBatch(
      payload([{ source, previous: { etag: '"v1"', sha256: BODY_SHA } }]),
      deps,
    );

    expect(summary.result.outcomes[0]).toMatchObject({
      status: 'unchanged',
      httpStatus: 200,
      validators: { etag: '"v3"', sha256: BODY_SHA },
    });
    // Only the hop's record: a pack holding the header alone.
    expect(s3.puts.map((p) => p.Key)).toEqual([summary.recordKey]);
    expect(summary.packEntries).toBe(0);
    expect(summary.bytesStored).toBe(0);
  });
});
