import { createHash } from 'node:crypto';
import { Transform } from 'node:stream';
import { crc32 } from 'node:zlib';
import { Crc32c } from '@aws-crypto/crc32c';
import { Crc64Nvme } from '@aws-sdk/crc64-nvme';

/** The flexible checksums S3 accepts, by the suffix of their header (`x-amz-checksum-crc32`). */
export const CHECKSUM_ALGORITHMS = ['crc32', 'crc32c', 'crc64nvme', 'sha1', 'sha256'] as const;
export type ChecksumAlgorithm = (typeof CHECKSUM_ALGORITHMS)[number];

export function isChecksumAlgorithm(name: string): name is ChecksumAlgorithm {
  return (CHECKSUM_ALGORITHMS as readonly string[]).includes(name);
}

/** An incremental checksum whose digest is S3's base64 form. */
export interface Checksummer {
  update(chunk: Buffer): void;
  digest(): Promise<string>;
}

function uint32(value: number): string {
  const out = Buffer.alloc(4);
  out.writeUInt32BE(value >>> 0);
  return out.toString('base64');
}

export function createChecksummer(algorithm: ChecksumAlgorithm): Checksummer {
  switch (algorithm) {
    case 'crc32': {
      let value = 0;
      return {
        update: (chunk) => {
          value = crc32(chunk, value);
        },
        digest: async () => uint32(value),
      };
    }
    case 'crc32c': {
      const hash = new Crc32c();
      return {
        update: (chunk) => void hash.update(chunk),
        digest: async () => uint32(hash.digest()),
      };
    }
    case 'crc64nvme': {
      const hash = new Crc64Nvme();
      return {
        update: (chunk) => hash.update(chunk),
        digest: async () => Buffer.from(await hash.digest()).toString('base64'),
      };
    }
    case 'sha1':
    case 'sha256': {
      const hash = createHash(algorithm);
      return {
        update: (chunk) => void hash.update(chunk),
        digest: async () => hash.digest('base64'),
      };
    }
  }
}

/** A pass-through that measures what flows through it: the MD5 (hex, an object's ETag) and the size. */
export interface Md5Meter {
  readonly stream: Transform;
  md5(): string;
  size(): number;
}

export function md5Meter(): Md5Meter {
  const hash = createHash('md5');
  let size = 0;
  const stream = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      hash.update(chunk);
      size += chunk.length;
      callback(null, chunk);
    },
  });
  return { stream, md5: () => hash.digest('hex'), size: () => size };
}
