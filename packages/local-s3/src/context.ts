import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Authenticated } from './auth.js';
import { S3Error } from './errors.js';
import type { MultipartStore } from './multipart.js';
import type { ObjectCreated } from './notifications.js';
import type { ObjectStore } from './object-store.js';
import { element, XML_DECLARATION } from './xml.js';

/** One request, parsed and authenticated, with what a handler needs to answer it. */
export interface S3Context {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly requestId: string;
  readonly hostId: string;
  readonly method: string;
  /** The path exactly as sent (still percent-encoded). */
  readonly rawPath: string;
  readonly query: URLSearchParams;
  readonly bucket?: string;
  /** Decoded; absent for service and bucket requests. */
  readonly key?: string;
  readonly auth: Authenticated;
  readonly store: ObjectStore;
  readonly uploads: MultipartStore;
  /** The notification configuration of a bucket, as S3's XML (`<NotificationConfiguration/>` when none). */
  notificationConfiguration(bucket: string): string;
  /** Hands a committed write to the notification bridge. */
  notify(
    created: Omit<ObjectCreated, 'eventTime' | 'sourceIPAddress' | 'requestId' | 'hostId'>,
  ): void;
}

export function header(ctx: S3Context, name: string): string | undefined {
  const value = ctx.req.headers[name];
  return typeof value === 'string' ? value : Array.isArray(value) ? value.join(',') : undefined;
}

export function headerReader(ctx: S3Context): (name: string) => string | undefined {
  return (name) => header(ctx, name);
}

export function sendXml(
  ctx: S3Context,
  status: number,
  xml: string,
  headers: Record<string, string> = {},
): void {
  const body = Buffer.from(xml);
  ctx.res.writeHead(status, {
    ...headers,
    'content-type': 'application/xml',
    'content-length': body.length,
  });
  ctx.res.end(ctx.method === 'HEAD' ? undefined : body);
}

export function sendEmpty(
  ctx: S3Context,
  status: number,
  headers: Record<string, string> = {},
): void {
  ctx.res.writeHead(status, { ...headers, 'content-length': 0 });
  ctx.res.end();
}

/** S3's XML error body: Code, Message, the error's details, Resource, RequestId, HostId. */
export function errorXml(
  error: S3Error,
  resource: string,
  requestId: string,
  hostId: string,
): string {
  const details = Object.entries(error.details)
    .map(([name, value]) => element(name, value))
    .join('');
  return `${XML_DECLARATION}<Error>${element('Code', error.code)}${element('Message', error.message)}${details}${element('Resource', resource)}${element('RequestId', requestId)}${element('HostId', hostId)}</Error>`;
}

export function bucketOf(ctx: S3Context): string {
  if (ctx.bucket === undefined) throw new S3Error(400, 'InvalidRequest', 'A bucket is required');
  return ctx.bucket;
}

export function keyOf(ctx: S3Context): string {
  if (ctx.key === undefined) throw new S3Error(400, 'InvalidRequest', 'A key is required');
  return ctx.key;
}

/** Throws NoSuchBucket unless the bucket exists. */
export async function existingBucket(ctx: S3Context): Promise<string> {
  const bucket = bucketOf(ctx);
  if (!(await ctx.store.bucketExists(bucket))) {
    throw new S3Error(404, 'NoSuchBucket', 'The specified bucket does not exist', {
      BucketName: bucket,
    });
  }
  return bucket;
}

/** `"etag"` as S3 sends it in headers and XML. */
export const quoted = (etag: string) => `"${etag}"`;
