import { createHash } from 'node:crypto';
import { mkdtemp, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import {
  type BatchResult,
  PACK_KIND,
  PACK_VERSION,
  type PackEntryFields,
  type PackHeader,
  packEntryLine,
} from '@fanout/shared';
import { describe, expect, it } from 'vitest';
import { PackWriteError, PackWriter, worstCaseDeflatedBytes } from '../../src/index.js';
import { readBackPack } from '../helpers/packs.js';
import { RUN_ID, SCHEDULED_AT } from '../helpers/payloads.js';

const KEY = `raw/packs/dt=2026-11-25/${RUN_ID}-b00001-h0.pack.ndjson.gz`;
const sha = (data: Buffer) => createHash('sha256').update(data).digest('hex');

function fields(sourceId: string, body: Buffer, page = 0): PackEntryFields {
  return {
    sourceId,
    page,
    url: `https://upstream.test/${sourceId}?token=REDACTED`,
    httpStatus: 200,
    contentType: 'text/csv; charset=windows-1252',
    fetchedAt: '2026-11-25T13:10:03.000Z',
    sha256: sha(body),
    format: 'csv',
    formatOptions: { delimiter: ';' },
  };
}

function header(entries: number, sourceIds: string[]): PackHeader {
  const result: BatchResult = {
    runId: RUN_ID,
    batchId: 'b00001',
    hop: 0,
    outcomes: sourceIds.map((sourceId) => ({
      status: 'ok',
      sourceId,
      attempts: 1,
      durationMs: 5,
      httpStatus: 200,
      bytes: 10,
      rawKeys: [KEY],
      validators: {},
      finishedAt: '2026-11-25T13:10:04.000Z',
    })),
    continued: [],
    writtenAt: '2026-11-25T13:10:05.000Z',
  };
  return {
    kind: PACK_KIND,
    version: PACK_VERSION,
    runId: RUN_ID,
    batchId: 'b00001',
    hop: 0,
    scheduledAt: SCHEDULED_AT,
    entries,
    result,
  };
}

/** Bytes that barely compress, so sizes in a test are predictable. */
function noise(bytes: number, seed: number): Buffer {
  const out = Buffer.alloc(bytes);
  let x = seed || 1;
  for (let i = 0; i < bytes; i += 1) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

async function writer(options: { memoryBytes?: number; maxBytes?: number } = {}) {
  const dir = await mkdtemp(join(tmpdir(), 'fanout-pack-test-'));
  const pack = new PackWriter(KEY, {
    tmpDir: dir,
    memoryBytes: options.memoryBytes ?? 8 * 1024 * 1024,
    maxBytes: options.maxBytes ?? 256 * 1024 * 1024,
  });
  return { pack, dir };
}

describe('PackWriter', () => {
  it('round-trips header and bodies byte for byte, a non-UTF-8 body included', async () => {
    // Prepare
    const { pack } = await writer();
    const utf8 = Buffer.from('id;name\n1;Zoë\n', 'utf8');
    const latin1 = Buffer.from('id;name\n1;caf\xe9 \x93quoted\x94\r\n', 'latin1');
    const binary = noise(3000, 7);

    // Act
    expect(await pack.append(fields('a', utf8), utf8)).toBe(true);
    expect(await pack.append(fields('b', latin1), latin1)).toBe(true);
    expect(await pack.append(fields('b', binary, 1), binary)).toBe(true);
    const finished = await pack.finish(header(3, ['a', 'b']));
    const stored = await finished.toBuffer();
    const read = await readBackPack(stored);

    // Assess
    expect(finished).toMatchObject({ key: KEY, entries: 3, spooled: false, bytes: stored.length });
    expect(read.header).toEqual(header(3, ['a', 'b']));
    expect(read.entries.map((e) => [e.sourceId, e.page, e.bodyEncoding, e.bytes])).toEqual([
      ['a', 0, 'utf8', utf8.length],
      ['b', 0, 'base64', latin1.length],
      ['b', 1, 'base64', binary.length],
    ]);
    expect(read.bodies[0]?.equals(utf8)).toBe(true);
    expect(read.bodies[1]?.equals(latin1)).toBe(true);
    expect(read.bodies[2]?.equals(binary)).toBe(true);
    expect(read.entries[1]).toMatchObject(fields('b', latin1));
    // Two gzip members: any gunzip (zcat) reads them as one stream, the header first.
    const firstLine = gunzipSync(stored).toString('utf8').split('\n')[0] ?? '';
    expect(JSON.parse(firstLine)).toMatchObject({ kind: 'fanout.pack', entries: 3 });
    // The streamed form is the same object.
    const streamed: Buffer[] = [];
    for await (const chunk of finished.open()) streamed.push(chunk as Buffer);
    expect(Buffer.concat(streamed).equals(stored)).toBe(true);
    await pack.dispose();
  });

  it('spools the compressed entries to a temp file past memoryBytes, and removes it', async () => {
    // Prepare: incompressible 20 KB bodies (about 20 KB compressed each), 32 KB of memory.
    const { pack, dir } = await writer({ memoryBytes: 32 * 1024 });
    const bodies = [1, 2, 3, 4].map((seed) => noise(20 * 1024, seed));

    // Act
    const spooledAfter: boolean[] = [];
    for (const [i, body] of bodies.entries()) {
      await pack.append(fields(`s${i}`, body), body);
      spooledAfter.push(pack.spooled);
    }
    const finished = await pack.finish(
      header(
        4,
        bodies.map((_, i) => `s${i}`),
      ),
    );
    const spoolFiles = await readdir(dir);
    const read = await readBackPack(finished.open());
    const fromBuffer = await readBackPack(await finished.toBuffer());
    await pack.dispose();

    // Assess: in memory for the first entry, on disk from the one that passed 32 KB.
    expect(spooledAfter).toEqual([false, true, true, true]);
    expect(finished.spooled).toBe(true);
    expect(spoolFiles).toEqual([expect.stringMatching(/^fanout-pack-/)]);
    expect(read.bodies.map((b, i) => b.equals(bodies[i] ?? Buffer.alloc(0)))).toEqual([
      true,
      true,
      true,
      true,
    ]);
    expect(fromBuffer.entries).toHaveLength(4);
    expect(await readdir(dir)).toEqual([]);
  });

  it('refuses an entry that might take the pack past maxBytes, and keeps the rest whole', async () => {
    // Prepare: incompressible 10 KB bodies (about 10 KB compressed each); the cap leaves
    // room for a second entry's worst case after one entry, not for a third after two.
    const bodies = [1, 2, 3].map((seed) => noise(10 * 1024, seed));
    const line = Buffer.byteLength(
      packEntryLine(fields('s0', bodies[0] ?? Buffer.alloc(0)), bodies[0] ?? Buffer.alloc(0)),
    );
    const maxBytes = worstCaseDeflatedBytes(line) + 15 * 1024;
    const { pack } = await writer({ maxBytes });

    // Act
    const accepted: boolean[] = [];
    for (const [i, body] of bodies.entries()) {
      accepted.push(await pack.append(fields(`s${i}`, body), body));
    }
    const small = Buffer.from('tiny');
    const afterFull = await pack.append(fields('small', small), small);
    const finished = await pack.finish(header(3, ['s0', 's1', 'small']));
    const read = await readBackPack(await finished.toBuffer());

    // Assess: the third was refused; a small one still fits after it.
    expect(accepted).toEqual([true, true, false]);
    expect(afterFull).toBe(true);
    expect(pack.bytes).toBeLessThanOrEqual(maxBytes);
    expect(read.entries.map((e) => e.sourceId)).toEqual(['s0', 's1', 'small']);
    expect(read.bodies[1]?.equals(bodies[1] ?? Buffer.alloc(0))).toBe(true);
    await pack.dispose();
  });

  it('will not finish with a header that miscounts its entries', async () => {
    const { pack } = await writer();
    const body = Buffer.from('{}');
    await pack.append(fields('a', body), body);

    const finishing = pack.finish(header(2, ['a']));

    await expect(finishing).rejects.toBeInstanceOf(PackWriteError);
    await expect(finishing).rejects.toThrow('header announces 2 entries, the pack holds 1');
    // A broken pack stays broken: nothing more can be added to it.
    await expect(pack.append(fields('b', body), body)).rejects.toBeInstanceOf(PackWriteError);
    await pack.dispose();
  });
});
