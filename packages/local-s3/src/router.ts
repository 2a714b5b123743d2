import {
  createBucket,
  deleteBucket,
  deleteObjects,
  getBucketLocation,
  getBucketNotification,
  getBucketVersioning,
  headBucket,
  listBuckets,
  listMultipartUploads,
  listObjectsV1,
  listObjectsV2,
  listObjectVersions,
  putBucketNotification,
} from './bucket-handlers.js';
import type { S3Context } from './context.js';
import { notImplemented, S3Error } from './errors.js';
import {
  abortMultipartUpload,
  completeMultipartUpload,
  createMultipartUpload,
  deleteObject,
  getObject,
  listParts,
  putObject,
  uploadPart,
} from './object-handlers.js';

/** Bucket subresources the local S3 does not emulate: answered 501 NotImplemented, by name. */
const BUCKET_SUBRESOURCES = [
  'accelerate',
  'acl',
  'analytics',
  'cors',
  'encryption',
  'intelligent-tiering',
  'inventory',
  'lifecycle',
  'logging',
  'metrics',
  'object-lock',
  'ownershipControls',
  'policy',
  'policyStatus',
  'publicAccessBlock',
  'replication',
  'requestPayment',
  'tagging',
  'website',
  'session',
];
const OBJECT_SUBRESOURCES = [
  'acl',
  'tagging',
  'retention',
  'legal-hold',
  'attributes',
  'torrent',
  'restore',
  'select',
];

function unsupported(ctx: S3Context, names: readonly string[]): string | undefined {
  return names.find((name) => ctx.query.has(name));
}

const methodNotAllowed = (ctx: S3Context) =>
  new S3Error(
    405,
    'MethodNotAllowed',
    'The specified method is not allowed against this resource.',
    {
      Method: ctx.method,
      ResourceType:
        ctx.key !== undefined ? 'OBJECT' : ctx.bucket !== undefined ? 'BUCKET' : 'SERVICE',
    },
  );

/** Picks the operation from the method, the path and the query, as S3's REST API defines them. */
export function route(ctx: S3Context): Promise<void> | void {
  const { method, query } = ctx;
  if (ctx.bucket === undefined) {
    if (method === 'GET') return listBuckets(ctx);
    throw methodNotAllowed(ctx);
  }
  if (ctx.key === undefined) {
    const other = unsupported(ctx, BUCKET_SUBRESOURCES);
    if (other) throw notImplemented(`The bucket subresource ?${other} (${method})`);
    switch (method) {
      case 'GET':
        if (query.has('location')) return getBucketLocation(ctx);
        if (query.has('versioning')) return getBucketVersioning(ctx);
        if (query.has('notification')) return getBucketNotification(ctx);
        if (query.has('versions')) return listObjectVersions(ctx);
        if (query.has('uploads')) return listMultipartUploads(ctx);
        if (query.get('list-type') === '2') return listObjectsV2(ctx);
        return listObjectsV1(ctx);
      case 'HEAD':
        return headBucket(ctx);
      case 'PUT':
        if (query.has('versioning'))
          throw notImplemented('PutBucketVersioning (versioning is not emulated)');
        if (query.has('notification')) return putBucketNotification();
        return createBucket(ctx);
      case 'DELETE':
        return deleteBucket(ctx);
      case 'POST':
        if (query.has('delete')) return deleteObjects(ctx);
        throw notImplemented('This POST on a bucket');
      default:
        throw methodNotAllowed(ctx);
    }
  }
  const other = unsupported(ctx, OBJECT_SUBRESOURCES);
  if (other) throw notImplemented(`The object subresource ?${other} (${method})`);
  switch (method) {
    case 'GET':
      if (query.has('uploadId')) return listParts(ctx);
      return getObject(ctx);
    case 'HEAD':
      return getObject(ctx);
    case 'PUT':
      if (query.has('uploadId')) return uploadPart(ctx);
      return putObject(ctx);
    case 'POST':
      if (query.has('uploads')) return createMultipartUpload(ctx);
      if (query.has('uploadId')) return completeMultipartUpload(ctx);
      throw notImplemented('This POST on an object');
    case 'DELETE':
      if (query.has('uploadId')) return abortMultipartUpload(ctx);
      return deleteObject(ctx);
    default:
      throw methodNotAllowed(ctx);
  }
}
