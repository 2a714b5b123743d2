import { Readable, Writable } from 'node:stream';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { parseStream } from '../../src/index.js';

const MB = 1024 * 1024;
const OBJECT_BYTES = 200 * MB;
const ENVELOPE = {
  sourceId: 'big',
  runId: '20261125T131000Z',
  fetchedAt: '2026-11-25T13:10:03.000Z',
};

// A full collection before each sample measures what the parse keeps alive, not
// garbage V8 has not collected yet (it would, under a 256 MB function's limit).
setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;

function memoryInUse(): number {
  collectGarbage();
  const usage = process.memoryUsage();
  return usage.heapUsed + usage.arrayBuffers;
}

/**
 * Generates `totalBytes` of NDJSON lazily (nothing is held but the current
 * chunk) and samples memory as the parser pulls it, so the peak is seen.
 */
function generatedNdjson(totalBytes: number, onChunk: () => void): Readable {
  let produced = 0;
  let id = 0;
  return new Readable({
    read() {
      if (produced >= totalBytes) {
        this.push(null);
        return;
      }
      let chunk = '';
      while (chunk.length < 256 * 1024) {
        chunk += `{"id":${id},"name":"item ${id}","tags":["a","b"],"value":${id * 0.5},"text":"${'lorem ipsum '.repeat(4)}"}\n`;
        id += 1;
      }
      produced += chunk.length;
      onChunk();
      this.push(chunk);
    },
  });
}

describe('parseStream memory', () => {
  it('parses a 200 MB NDJSON stream with memory growth far below the object size', async () => {
    // Prepare
    let peak = 0;
    let chunks = 0;
    const before = memoryInUse();
    const input = generatedNdjson(OBJECT_BYTES, () => {
      chunks += 1;
      if (chunks % 16 === 0) peak = Math.max(peak, memoryInUse());
    });
    let written = 0;
    const sink = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        written += chunk.length;
        callback();
      },
    });

    // Act
    const stats = await parseStream(input, sink, {
      format: 'ndjson',
      envelope: ENVELOPE,
      limits: { maxRawBytes: 2 * OBJECT_BYTES, maxRecordBytes: 64 * 1024 },
      gzipLevel: 1,
    });

    // Assess
    expect(stats.bytesIn).toBeGreaterThanOrEqual(OBJECT_BYTES);
    expect(stats.records).toBeGreaterThan(1_000_000);
    expect(stats.bytesOut).toBe(written);
    expect(chunks).toBeGreaterThan(700);
    const growth = peak - before;
    // Holding the records, the input or the output would take 100+ MB; streaming holds a few.
    expect(growth).toBeLessThan(32 * MB);
  }, 300_000);
});
