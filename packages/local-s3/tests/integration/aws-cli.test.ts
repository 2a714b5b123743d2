import { execFile } from 'node:child_process';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOCAL_S3_CREDENTIALS, type LocalS3, rawS3Request } from '../../src/index.js';
import { startQuietS3, tempHome } from '../helpers/server.js';

/**
 * What the AWS CLI (a client nobody here wrote) gets from the local S3: each failure
 * once seen with s3rver, as S3 answers it, and the server still up after each one.
 * CI installs the CLI (Debian's awscli) when it is missing.
 */
const BUCKET = 'probe';
let home: string;
let s3: LocalS3;

beforeAll(async () => {
  home = await tempHome('cli');
  s3 = await startQuietS3(home, BUCKET);
});

afterAll(async () => {
  await s3.stop();
  await rm(home, { recursive: true, force: true });
});

interface CliResult {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the CLI in a child process, asynchronously: the server answers from this process. */
function aws(
  args: readonly string[],
  secret: string = LOCAL_S3_CREDENTIALS.secretAccessKey,
): Promise<CliResult> {
  const env = {
    PATH: process.env.PATH,
    HOME: home,
    AWS_ACCESS_KEY_ID: LOCAL_S3_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: secret,
    AWS_DEFAULT_REGION: 'us-east-1',
    AWS_CONFIG_FILE: join(home, 'no-config'),
    AWS_SHARED_CREDENTIALS_FILE: join(home, 'no-credentials'),
  };
  const argv = ['--endpoint-url', s3.endpoint, '--output', 'json', ...args];
  return new Promise((resolve, reject) => {
    execFile('aws', argv, { encoding: 'utf8', env, timeout: 120_000 }, (error, stdout, stderr) => {
      const code = (error as { code?: unknown } | null)?.code;
      if (typeof code === 'string') {
        reject(new Error(`the AWS CLI could not run (apt-get install -y awscli): ${code}`));
        return;
      }
      resolve({ status: typeof code === 'number' ? code : 0, stdout, stderr });
    });
  });
}

async function ok(args: readonly string[]): Promise<unknown> {
  const result = await aws(args);
  expect(result.stderr, args.join(' ')).toBe('');
  expect(result.status, args.join(' ')).toBe(0);
  return result.stdout.trim() ? JSON.parse(result.stdout) : undefined;
}

async function keys(prefix: string): Promise<string[]> {
  const out = (await ok(['s3api', 'list-objects-v2', '--bucket', BUCKET, '--prefix', prefix])) as
    | { Contents?: { Key: string }[] }
    | undefined;
  return (out?.Contents ?? []).map((c) => c.Key).sort();
}

async function stillUp(): Promise<void> {
  await ok(['s3api', 'list-buckets']);
}

describe('the local S3 driven by the AWS CLI', () => {
  it('answers CompleteMultipartUpload naming a part never uploaded with InvalidPart, and stays up', async () => {
    const part = join(home, 'part');
    await writeFile(part, 'part one');
    const { UploadId } = (await ok([
      's3api',
      'create-multipart-upload',
      '--bucket',
      BUCKET,
      '--key',
      'mp/one',
    ])) as { UploadId: string };
    const { ETag } = (await ok([
      's3api',
      'upload-part',
      '--bucket',
      BUCKET,
      '--key',
      'mp/one',
      '--part-number',
      '1',
      '--upload-id',
      UploadId,
      '--body',
      part,
    ])) as { ETag: string };
    const parts = JSON.stringify({
      Parts: [
        { PartNumber: 1, ETag },
        { PartNumber: 2, ETag },
      ],
    });
    const failed = await aws([
      's3api',
      'complete-multipart-upload',
      '--bucket',
      BUCKET,
      '--key',
      'mp/one',
      '--upload-id',
      UploadId,
      '--multipart-upload',
      parts,
    ]);
    expect(failed.status).not.toBe(0);
    expect(failed.stderr).toContain('InvalidPart');
    await stillUp();
    // The upload is still open: completing it right, twice, gives the same ETag (as S3).
    const right = JSON.stringify({ Parts: [{ PartNumber: 1, ETag }] });
    const first = (await ok([
      's3api',
      'complete-multipart-upload',
      '--bucket',
      BUCKET,
      '--key',
      'mp/one',
      '--upload-id',
      UploadId,
      '--multipart-upload',
      right,
    ])) as { ETag: string };
    const again = (await ok([
      's3api',
      'complete-multipart-upload',
      '--bucket',
      BUCKET,
      '--key',
      'mp/one',
      '--upload-id',
      UploadId,
      '--multipart-upload',
      right,
    ])) as { ETag: string };
    expect(again.ETag).toBe(first.ETag);
    expect(first.ETag).toMatch(/^"[0-9a-f]{32}-1"$/);
  });

  it('DeleteObjects deletes exactly " x", not "x"', async () => {
    const body = join(home, 'body');
    await writeFile(body, 'b');
    await ok(['s3api', 'put-object', '--bucket', BUCKET, '--key', 'sp/x', '--body', body]);
    await ok(['s3api', 'put-object', '--bucket', BUCKET, '--key', 'sp/ x', '--body', body]);
    const out = (await ok([
      's3api',
      'delete-objects',
      '--bucket',
      BUCKET,
      '--delete',
      JSON.stringify({ Objects: [{ Key: 'sp/ x' }] }),
    ])) as { Deleted: { Key: string }[] };
    expect(out.Deleted.map((d) => d.Key)).toEqual(['sp/ x']);
    expect(await keys('sp/')).toEqual(['sp/x']);
  });

  it('DeleteObjects deletes keys that look like numbers or booleans', async () => {
    const body = join(home, 'body');
    await writeFile(body, 'b');
    const names = ['7', '2026', '007', '1.5', '1e3', 'true', '0x1A'].map((k) => `num/${k}`);
    for (const key of names)
      await ok(['s3api', 'put-object', '--bucket', BUCKET, '--key', key, '--body', body]);
    await ok([
      's3api',
      'delete-objects',
      '--bucket',
      BUCKET,
      '--delete',
      JSON.stringify({ Objects: names.map((Key) => ({ Key })) }),
    ]);
    expect(await keys('num/')).toEqual([]);
    // Only numbers after the prefix: a bare `7` as a whole key too.
    await ok(['s3api', 'put-object', '--bucket', BUCKET, '--key', '7', '--body', body]);
    await ok([
      's3api',
      'delete-objects',
      '--bucket',
      BUCKET,
      '--delete',
      '{"Objects":[{"Key":"7"}]}',
    ]);
    expect(await keys('7')).toEqual([]);
  });

  it('aborts, lists uploads, copies a part, and refuses an unknown upload id', async () => {
    const { UploadId } = (await ok([
      's3api',
      'create-multipart-upload',
      '--bucket',
      BUCKET,
      '--key',
      'mp/two',
    ])) as { UploadId: string };
    const listed = (await ok([
      's3api',
      'list-multipart-uploads',
      '--bucket',
      BUCKET,
      '--prefix',
      'mp/two',
    ])) as { Uploads: { UploadId: string }[] };
    expect(listed.Uploads.map((u) => u.UploadId)).toEqual([UploadId]);
    const body = join(home, 'src');
    await writeFile(body, '0123456789');
    await ok(['s3api', 'put-object', '--bucket', BUCKET, '--key', 'mp/src', '--body', body]);
    const copied = (await ok([
      's3api',
      'upload-part-copy',
      '--bucket',
      BUCKET,
      '--key',
      'mp/two',
      '--part-number',
      '1',
      '--upload-id',
      UploadId,
      '--copy-source',
      `${BUCKET}/mp/src`,
      '--copy-source-range',
      'bytes=0-4',
    ])) as { CopyPartResult: { ETag: string } };
    expect(copied.CopyPartResult.ETag).toMatch(/^"[0-9a-f]{32}"$/);
    await ok([
      's3api',
      'abort-multipart-upload',
      '--bucket',
      BUCKET,
      '--key',
      'mp/two',
      '--upload-id',
      UploadId,
    ]);
    const unknown = await aws([
      's3api',
      'abort-multipart-upload',
      '--bucket',
      BUCKET,
      '--key',
      'mp/two',
      '--upload-id',
      UploadId,
    ]);
    expect(unknown.stderr).toContain('NoSuchUpload');
    await stillUp();
  });

  it('refuses a signature made with the wrong secret (ListBuckets, PutObject, ListObjects)', async () => {
    const body = join(home, 'body');
    await writeFile(body, 'b');
    for (const args of [
      ['s3api', 'list-buckets'],
      ['s3api', 'put-object', '--bucket', BUCKET, '--key', 'wrong/secret', '--body', body],
      ['s3api', 'list-objects', '--bucket', BUCKET],
    ]) {
      const refused = await aws(args, 'not-the-secret');
      expect(refused.status, args.join(' ')).not.toBe(0);
      expect(refused.stderr).toContain('SignatureDoesNotMatch');
    }
    expect(await keys('wrong/')).toEqual([]);
  });

  it('answers bucket requests as S3 does: own bucket again, versioning refused by name, versions listed', async () => {
    await ok(['s3api', 'create-bucket', '--bucket', BUCKET]);
    const versioning = await aws([
      's3api',
      'put-bucket-versioning',
      '--bucket',
      BUCKET,
      '--versioning-configuration',
      'Status=Enabled',
    ]);
    expect(versioning.stderr).toContain('NotImplemented');
    const versions = (await ok([
      's3api',
      'list-object-versions',
      '--bucket',
      BUCKET,
      '--prefix',
      'mp/src',
    ])) as { Versions: { Key: string; VersionId: string }[] };
    expect(versions.Versions.map((v) => [v.Key, v.VersionId])).toEqual([['mp/src', 'null']]);
  });

  it('sends a 304 with its ETag, errors with a RequestId, and ignores an unknown Expect', async () => {
    const body = join(home, 'etag');
    await writeFile(body, 'e');
    const { ETag } = (await ok([
      's3api',
      'put-object',
      '--bucket',
      BUCKET,
      '--key',
      'misc/e',
      '--body',
      body,
    ])) as { ETag: string };
    const notModified = await rawS3Request(s3.endpoint, s3.region, {
      method: 'GET',
      path: `/${BUCKET}/misc/e`,
      headers: { 'if-none-match': ETag },
      sign: LOCAL_S3_CREDENTIALS,
    });
    expect(notModified.status).toBe(304);
    expect(notModified.headers.etag).toBe(ETag);
    const missing = await rawS3Request(s3.endpoint, s3.region, {
      method: 'GET',
      path: `/${BUCKET}/misc/none`,
      sign: LOCAL_S3_CREDENTIALS,
    });
    expect(missing.body.toString()).toMatch(
      /<Code>NoSuchKey<\/Code>.*<RequestId>[0-9A-F]{16}<\/RequestId>/,
    );
    const expecting = await rawS3Request(s3.endpoint, s3.region, {
      method: 'PUT',
      path: `/${BUCKET}/misc/expect`,
      body: 'x',
      headers: { expect: 'something-else' },
      sign: LOCAL_S3_CREDENTIALS,
    });
    expect(expecting.status).toBe(200);
  });

  it('serves a URL presigned by the CLI with SigV4, refuses it tampered with, and refuses SigV2', async () => {
    for (const [key, body] of [
      ['presign/e', 'e'],
      ['presign/other', 'o'],
    ]) {
      const put = { method: 'PUT', path: `/${BUCKET}/${key}`, body, sign: LOCAL_S3_CREDENTIALS };
      expect((await rawS3Request(s3.endpoint, s3.region, put)).status).toBe(200);
    }
    const v2 = await aws(['s3', 'presign', `s3://${BUCKET}/presign/e`, '--expires-in', '300']);
    const v2url = new URL(v2.stdout.trim());
    if (v2url.searchParams.has('Signature')) {
      const refused = await fetch(v2url);
      expect(refused.status).toBe(400);
      expect(await refused.text()).toContain('Signature Version 2 is not supported');
    }
    await writeFile(join(home, 'no-config'), '[default]\ns3 =\n  signature_version = s3v4\n');
    try {
      const presigned = await aws([
        's3',
        'presign',
        `s3://${BUCKET}/presign/e`,
        '--expires-in',
        '300',
      ]);
      expect(presigned.status).toBe(0);
      const url = new URL(presigned.stdout.trim());
      expect(url.searchParams.get('X-Amz-Algorithm')).toBe('AWS4-HMAC-SHA256');
      const good = await fetch(url);
      expect(good.status, await good.clone().text()).toBe(200);
      expect(await good.text()).toBe('e');
      url.pathname = `/${BUCKET}/presign/other`;
      expect((await fetch(url)).status).toBe(403);
    } finally {
      await rm(join(home, 'no-config'), { force: true });
    }
  });
});
