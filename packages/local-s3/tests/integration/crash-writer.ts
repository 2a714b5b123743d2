/**
 * The process the crash test kills: starts the local S3 on a data folder and
 * writes through the SDK until it is killed. Each writer owns its keys, so the
 * test knows which version of a key must at least be there. Prints `ready`,
 * then one `ack <key> <seq>` line per acknowledged PutObject.
 *
 * Usage: node writer.mjs <home> <bucket> <first seq>
 */
import { createHash } from 'node:crypto';
import { CopyObjectCommand, DeleteObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { createLocalS3Client } from '../../src/index.js';
import { startQuietS3 } from '../helpers/server.js';

export const WRITERS = 4;
/** A long key segment (over the file-name limit) and awkward characters, as the pipeline's keys have. */
export function ownedKeys(writer: number): string[] {
  return [
    `crash/w${writer}/source=demo/a+b c.bin`,
    `crash/w${writer}/${'é'.repeat(150)}/long.bin`,
    `crash/w${writer}/plain.bin`,
  ];
}
export function churnKey(writer: number): string {
  return `crash/w${writer}/churn.bin`;
}
export function copyKey(writer: number): string {
  return `crash/copies/w${writer}.bin`;
}

/** A body that proves itself whole: a header line naming key and seq, then bytes derived from seq. */
export function bodyFor(key: string, seq: number): Buffer {
  const size = 1024 + ((seq * 7919) % 2_000_000);
  const header = Buffer.from(`${JSON.stringify({ key, seq, size })}\n`);
  const unit = createHash('sha256').update(String(seq)).digest();
  const payload = Buffer.alloc(size);
  for (let offset = 0; offset < size; offset += unit.length) unit.copy(payload, offset);
  return Buffer.concat([header, payload]);
}

export function sha256(body: Buffer): string {
  return createHash('sha256').update(body).digest('hex');
}

async function main(): Promise<void> {
  const [home, bucket, firstSeq] = process.argv.slice(2);
  if (!home || !bucket || !firstSeq) throw new Error('usage: writer <home> <bucket> <first seq>');
  const s3 = await startQuietS3(home, bucket);
  const client = createLocalS3Client(s3.endpoint);
  let seq = Number(firstSeq);
  process.stdout.write('ready\n');

  const put = async (key: string) => {
    seq += 1;
    const mine = seq;
    const body = bodyFor(key, mine);
    await client.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: key,
        Body: body,
        ContentType: 'application/octet-stream',
        Metadata: { seq: String(mine), sha256: sha256(body) },
      }),
    );
    process.stdout.write(`ack ${JSON.stringify(key)} ${mine}\n`);
  };

  const writer = async (w: number) => {
    for (let round = 0; ; round += 1) {
      for (const key of ownedKeys(w)) await put(key);
      await put(churnKey(w));
      await client.send(
        new CopyObjectCommand({
          Bucket: bucket,
          Key: copyKey(w),
          CopySource: `${bucket}/${churnKey(w).split('/').map(encodeURIComponent).join('/')}`,
        }),
      );
      if (round % 2 === 0) {
        await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: churnKey(w) }));
      }
    }
  };
  await Promise.all(Array.from({ length: WRITERS }, (_, w) => writer(w)));
}

// Only when run as the child, not when the test imports the helpers above.
if (process.argv[1]?.endsWith('writer.mjs')) {
  main().catch((error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
    process.exit(1);
  });
}
