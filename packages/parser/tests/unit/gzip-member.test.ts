import { crc32, gunzipSync, inflateRawSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { deflateSegmentSync } from '../../src/gzip-member.js';
import { GzipMemberAssembler } from '../../src/index.js';

/** The member's deflate data must end where its trailer begins: nothing after a first member. */
function inflatedWhole(member: Buffer): Buffer {
  const body = member.subarray(10, member.length - 8);
  const { buffer, engine } = inflateRawSync(body, { info: true }) as unknown as {
    buffer: Buffer;
    engine: { bytesWritten: number };
  };
  expect(engine.bytesWritten).toBe(body.length);
  return buffer;
}

describe('GzipMemberAssembler', () => {
  it('makes ONE gzip member of the segments kept, a dropped one leaving no trace', () => {
    // Prepare: three segments; the middle one is dropped after it was made.
    const member = new GzipMemberAssembler();
    const parts: Buffer[] = [member.header()];
    for (const [text, keep] of [
      ['{"a":1}\n'.repeat(500), true],
      ['{"bad":true}\n', false],
      ['{"b":"é"}\n'.repeat(300), true],
    ] as const) {
      const bytes = Buffer.from(text);
      const segment = deflateSegmentSync(bytes, 1);
      const stats = { linesBytes: bytes.length, crc: crc32(bytes, member.crcSeed) };
      if (keep) {
        parts.push(segment);
        member.keep(stats);
      }
    }
    parts.push(member.trailer());
    const gzip = Buffer.concat(parts);

    // Assess: gunzip (checks CRC and size) and a reader of the first member alone agree.
    const expected = `${'{"a":1}\n'.repeat(500)}${'{"b":"é"}\n'.repeat(300)}`;
    expect(gunzipSync(gzip).toString()).toBe(expected);
    expect(inflatedWhole(gzip).toString()).toBe(expected);
    expect(gzip.subarray(4, 8).readUInt32LE(0)).toBe(0); // no mtime: no clock in the output
  });

  it('is a valid empty member when nothing is kept', () => {
    const member = new GzipMemberAssembler();
    const gzip = Buffer.concat([member.header(), member.trailer()]);
    expect(gunzipSync(gzip).length).toBe(0);
  });
});
