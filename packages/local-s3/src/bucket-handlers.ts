import { bucketOf, existingBucket, quoted, type S3Context, sendEmpty, sendXml } from './context.js';
import { invalidArgument, malformedXml, notImplemented, S3Error } from './errors.js';
import { compareKeys, MAX_KEY_BYTES } from './key-paths.js';
import { readPayload, requestPayload } from './payload.js';
import { document, element, parseRequestXml } from './xml.js';

/** The owner every listing names (one local account). */
const OWNER = `<Owner>${element('ID', '75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a')}${element('DisplayName', 'local')}</Owner>`;
const MAX_KEYS = 1000;
const MAX_DELETE_OBJECTS = 1000;

export async function listBuckets(ctx: S3Context): Promise<void> {
  const buckets = (await ctx.store.listBuckets())
    .map(
      (b) =>
        `<Bucket>${element('Name', b.name)}${element('CreationDate', b.created.toISOString())}</Bucket>`,
    )
    .join('');
  sendXml(ctx, 200, document('ListAllMyBucketsResult', `${OWNER}<Buckets>${buckets}</Buckets>`));
}

export async function createBucket(ctx: S3Context): Promise<void> {
  const bucket = bucketOf(ctx);
  const created = await ctx.store.createBucket(bucket);
  // As S3: re-creating your own bucket is fine in us-east-1, an error elsewhere.
  if (!created && ctx.auth.region !== 'us-east-1') {
    throw new S3Error(
      409,
      'BucketAlreadyOwnedByYou',
      'Your previous request to create the named bucket succeeded and you already own it.',
      { BucketName: bucket },
    );
  }
  sendEmpty(ctx, 200, { location: `/${bucket}` });
}

export async function deleteBucket(ctx: S3Context): Promise<void> {
  await ctx.store.deleteBucket(await existingBucket(ctx));
  sendEmpty(ctx, 204);
}

export async function headBucket(ctx: S3Context): Promise<void> {
  await existingBucket(ctx);
  sendEmpty(ctx, 200, { 'x-amz-bucket-region': ctx.auth.region });
}

export async function getBucketLocation(ctx: S3Context): Promise<void> {
  await existingBucket(ctx);
  // us-east-1 is an empty LocationConstraint.
  sendXml(ctx, 200, document('LocationConstraint', ''));
}

export async function getBucketVersioning(ctx: S3Context): Promise<void> {
  await existingBucket(ctx);
  sendXml(ctx, 200, document('VersioningConfiguration', ''));
}

export async function getBucketNotification(ctx: S3Context): Promise<void> {
  const bucket = await existingBucket(ctx);
  sendXml(ctx, 200, ctx.notificationConfiguration(bucket));
}

export function putBucketNotification(): never {
  throw notImplemented(
    'PutBucketNotificationConfiguration (the notification comes from the topology in @fanout/shared; change it there)',
  );
}

/** S3's `encoding-type=url`: keys percent-encoded, spaces as `+`, slashes kept. */
function urlEncode(value: string): string {
  return encodeURIComponent(value).replace(/%20/g, '+').replace(/%2F/g, '/');
}

interface Page {
  readonly keys: string[];
  readonly prefixes: string[];
  readonly truncated: boolean;
  /** The last key or prefix returned: where the next page starts after. */
  readonly last?: string;
}

/**
 * One page of a listing. With a delimiter, the keys that share a common prefix are one
 * item; keys and prefixes together count toward maxKeys, and a page can end on a prefix.
 */
async function page(
  ctx: S3Context,
  bucket: string,
  options: { prefix: string; delimiter: string; startAfter: string; maxKeys: number },
): Promise<Page> {
  const { prefix, delimiter, startAfter, maxKeys } = options;
  const all = await ctx.store.listKeys(bucket, { prefix, startAfter });
  const keys: string[] = [];
  const prefixes: string[] = [];
  let last: string | undefined;
  let truncated = false;
  for (const key of all) {
    let item = key;
    let isPrefix = false;
    if (delimiter) {
      const at = key.indexOf(delimiter, prefix.length);
      if (at !== -1) {
        item = key.slice(0, at + delimiter.length);
        isPrefix = true;
        // Already returned, here or on the page the token came from.
        if (item === last || compareKeys(item, startAfter) <= 0) continue;
      }
    }
    if (keys.length + prefixes.length >= maxKeys) {
      truncated = true;
      break;
    }
    (isPrefix ? prefixes : keys).push(item);
    last = item;
  }
  return { keys, prefixes, truncated, ...(last !== undefined ? { last } : {}) };
}

/**
 * What every listing reads, in this order: the bucket, the key encoding, the prefix and
 * delimiter, where to start (`startAfter`, read by the caller's own parameter) and
 * max-keys; then the page.
 */
async function listingPage(ctx: S3Context, startAfter: () => string) {
  const bucket = await existingBucket(ctx);
  const encode = encodingOf(ctx);
  const prefix = ctx.query.get('prefix') ?? '';
  const delimiter = ctx.query.get('delimiter') ?? '';
  const after = startAfter();
  const maxKeys = maxKeysOf(ctx);
  const result = await page(ctx, bucket, { prefix, delimiter, startAfter: after, maxKeys });
  return { bucket, encode, prefix, delimiter, maxKeys, result };
}

function maxKeysOf(ctx: S3Context): number {
  const raw = ctx.query.get('max-keys');
  if (raw === null) return MAX_KEYS;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0)
    throw invalidArgument(
      'max-keys',
      raw,
      'Provided max-keys not an integer or within integer range',
    );
  return Math.min(n, MAX_KEYS);
}

function encodingOf(ctx: S3Context): (value: string) => string {
  const type = ctx.query.get('encoding-type');
  if (type === null) return (value) => value;
  if (type !== 'url')
    throw invalidArgument('encoding-type', type, 'Invalid Encoding Method specified in Request');
  return urlEncode;
}

async function contents(
  ctx: S3Context,
  bucket: string,
  keys: readonly string[],
  encode: (v: string) => string,
  owner: boolean,
) {
  const parts: string[] = [];
  for (const key of keys) {
    const record = await ctx.store.head(bucket, key);
    if (!record) continue; // deleted since the folder was read
    parts.push(
      `<Contents>${element('Key', encode(key))}${element('LastModified', record.lastModified.toISOString())}${element('ETag', quoted(record.etag))}${element('Size', record.size)}${owner ? OWNER : ''}${element('StorageClass', 'STANDARD')}</Contents>`,
    );
  }
  return parts.join('');
}

function commonPrefixes(prefixes: readonly string[], encode: (v: string) => string): string {
  return prefixes
    .map((p) => `<CommonPrefixes>${element('Prefix', encode(p))}</CommonPrefixes>`)
    .join('');
}

function token(last: string): string {
  return Buffer.from(JSON.stringify({ after: last })).toString('base64');
}

function afterToken(raw: string): string {
  try {
    const parsed = JSON.parse(Buffer.from(raw, 'base64').toString('utf8')) as { after?: unknown };
    if (typeof parsed.after === 'string') return parsed.after;
  } catch {
    // answered below
  }
  throw invalidArgument('continuation-token', raw, 'The continuation token provided is incorrect');
}

export async function listObjectsV2(ctx: S3Context): Promise<void> {
  const startAfterParam = ctx.query.get('start-after') ?? '';
  const continuation = ctx.query.get('continuation-token');
  const { bucket, encode, prefix, delimiter, maxKeys, result } = await listingPage(ctx, () =>
    continuation !== null ? afterToken(continuation) : startAfterParam,
  );
  const owner = ctx.query.get('fetch-owner') === 'true';
  sendXml(
    ctx,
    200,
    document(
      'ListBucketResult',
      [
        element('Name', bucket),
        element('Prefix', encode(prefix)),
        delimiter ? element('Delimiter', encode(delimiter)) : '',
        element('MaxKeys', maxKeys),
        element('KeyCount', result.keys.length + result.prefixes.length),
        element('IsTruncated', result.truncated),
        continuation !== null ? element('ContinuationToken', continuation) : '',
        startAfterParam ? element('StartAfter', encode(startAfterParam)) : '',
        result.truncated && result.last !== undefined
          ? element('NextContinuationToken', token(result.last))
          : '',
        ctx.query.get('encoding-type') === 'url' ? element('EncodingType', 'url') : '',
        await contents(ctx, bucket, result.keys, encode, owner),
        commonPrefixes(result.prefixes, encode),
      ].join(''),
    ),
  );
}

export async function listObjectsV1(ctx: S3Context): Promise<void> {
  const marker = ctx.query.get('marker') ?? '';
  const { bucket, encode, prefix, delimiter, maxKeys, result } = await listingPage(
    ctx,
    () => marker,
  );
  sendXml(
    ctx,
    200,
    document(
      'ListBucketResult',
      [
        element('Name', bucket),
        element('Prefix', encode(prefix)),
        element('Marker', encode(marker)),
        delimiter ? element('Delimiter', encode(delimiter)) : '',
        element('MaxKeys', maxKeys),
        element('IsTruncated', result.truncated),
        // S3 gives NextMarker only with a delimiter; without one the last key is the marker.
        result.truncated && delimiter && result.last !== undefined
          ? element('NextMarker', encode(result.last))
          : '',
        ctx.query.get('encoding-type') === 'url' ? element('EncodingType', 'url') : '',
        await contents(ctx, bucket, result.keys, encode, true),
        commonPrefixes(result.prefixes, encode),
      ].join(''),
    ),
  );
}

/** An unversioned bucket's versions: each object once, as version "null", the latest. */
export async function listObjectVersions(ctx: S3Context): Promise<void> {
  const marker = ctx.query.get('key-marker') ?? '';
  const { bucket, encode, prefix, delimiter, maxKeys, result } = await listingPage(
    ctx,
    () => marker,
  );
  const versions: string[] = [];
  for (const key of result.keys) {
    const record = await ctx.store.head(bucket, key);
    if (!record) continue;
    versions.push(
      `<Version>${element('Key', encode(key))}${element('VersionId', 'null')}${element('IsLatest', true)}${element('LastModified', record.lastModified.toISOString())}${element('ETag', quoted(record.etag))}${element('Size', record.size)}${OWNER}${element('StorageClass', 'STANDARD')}</Version>`,
    );
  }
  sendXml(
    ctx,
    200,
    document(
      'ListVersionsResult',
      [
        element('Name', bucket),
        element('Prefix', encode(prefix)),
        element('KeyMarker', encode(marker)),
        element('VersionIdMarker', ''),
        delimiter ? element('Delimiter', encode(delimiter)) : '',
        element('MaxKeys', maxKeys),
        element('IsTruncated', result.truncated),
        result.truncated && result.last !== undefined
          ? `${element('NextKeyMarker', encode(result.last))}${element('NextVersionIdMarker', 'null')}`
          : '',
        versions.join(''),
        commonPrefixes(result.prefixes, encode),
      ].join(''),
    ),
  );
}

export async function listMultipartUploads(ctx: S3Context): Promise<void> {
  const bucket = await existingBucket(ctx);
  const prefix = ctx.query.get('prefix') ?? '';
  const uploads = (await ctx.uploads.list(bucket))
    .filter((u) => u.key.startsWith(prefix))
    .sort((a, b) => compareKeys(a.key, b.key) || a.initiated.localeCompare(b.initiated));
  const items = uploads
    .map(
      (u) =>
        `<Upload>${element('Key', u.key)}${element('UploadId', u.uploadId)}<Initiator>${element('ID', 'local')}${element('DisplayName', 'local')}</Initiator>${OWNER}${element('StorageClass', 'STANDARD')}${element('Initiated', u.initiated)}</Upload>`,
    )
    .join('');
  sendXml(
    ctx,
    200,
    document(
      'ListMultipartUploadsResult',
      `${element('Bucket', bucket)}${element('KeyMarker', '')}${element('UploadIdMarker', '')}${element('Prefix', prefix)}${element('MaxUploads', 1000)}${element('IsTruncated', false)}${items}`,
    ),
  );
}

/** DeleteObjects: exactly the keys named, each reported Deleted (a missing key too) or with its error. */
export async function deleteObjects(ctx: S3Context): Promise<void> {
  const bucket = await existingBucket(ctx);
  const body = await readPayload(requestPayload(ctx.req, ctx.auth.payload), 2 * 1024 * 1024);
  const root = parseRequestXml(body, 'Delete');
  const objects = root.Object;
  if (!Array.isArray(objects) || objects.length === 0) throw malformedXml('no <Object> elements');
  if (objects.length > MAX_DELETE_OBJECTS)
    throw malformedXml(`more than ${MAX_DELETE_OBJECTS} <Object> elements`);
  const keys = objects.map((object: unknown) => {
    const key =
      typeof object === 'object' && object !== null
        ? (object as Record<string, unknown>).Key
        : undefined;
    if (typeof key !== 'string') throw malformedXml('an <Object> without a <Key>');
    return key;
  });
  const quiet = typeof root.Quiet === 'string' && root.Quiet.trim().toLowerCase() === 'true';
  const results: string[] = [];
  for (const key of keys) {
    if (key === '' || Buffer.byteLength(key) > MAX_KEY_BYTES || key.includes('\0')) {
      const code = key === '' ? 'UserKeyMustBeSpecified' : 'KeyTooLongError';
      results.push(
        `<Error>${element('Key', key)}${element('Code', code)}${element('Message', 'The key is not valid')}</Error>`,
      );
      continue;
    }
    await ctx.store.delete(bucket, key);
    if (!quiet) results.push(`<Deleted>${element('Key', key)}</Deleted>`);
  }
  sendXml(ctx, 200, document('DeleteResult', results.join('')));
}
