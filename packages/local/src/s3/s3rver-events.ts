import type { ObjectCreated } from './notifications.js';

/**
 * Reads one record of what s3rver emits on its `event` channel. Unlike S3, its
 * key is not URL-encoded, its bucket ARN is malformed and a completed multipart
 * upload arrives as `ObjectCreated:Post`; only the facts are taken from it.
 * Returns undefined for anything but an object-created record.
 */
export function objectCreatedFromS3rver(
  emitted: unknown,
  completesMultipartUpload: boolean,
): ObjectCreated | undefined {
  const record = field(field(emitted, 'Records'), 0);
  const eventName = field(record, 'eventName');
  if (typeof eventName !== 'string' || !eventName.startsWith('ObjectCreated:')) return undefined;
  const s3 = field(record, 's3');
  const bucket = field(field(s3, 'bucket'), 'name');
  const object = field(s3, 'object');
  const key = field(object, 'key');
  if (typeof bucket !== 'string' || typeof key !== 'string') return undefined;
  const size = Number(field(object, 'size') ?? 0);
  const eTag = field(object, 'eTag');
  const eventTime = field(record, 'eventTime');
  const sourceIp = field(field(record, 'requestParameters'), 'sourceIPAddress');
  const response = field(record, 'responseElements');
  const requestId = field(response, 'x-amz-request-id');
  const hostId = field(response, 'x-amz-id-2');
  return {
    bucket,
    key,
    eventName:
      eventName === 'ObjectCreated:Post' && completesMultipartUpload
        ? 'ObjectCreated:CompleteMultipartUpload'
        : eventName,
    size: Number.isFinite(size) ? size : 0,
    ...(typeof eTag === 'string' ? { eTag } : {}),
    eventTime: typeof eventTime === 'string' ? eventTime : new Date().toISOString(),
    sourceIPAddress: typeof sourceIp === 'string' ? sourceIp.replace(/^::ffff:/, '') : '127.0.0.1',
    requestId: typeof requestId === 'string' ? requestId : '',
    hostId: typeof hostId === 'string' ? hostId : '',
  };
}

function field(value: unknown, name: string | number): unknown {
  if (typeof value !== 'object' || value === null) return undefined;
  return (value as Record<string | number, unknown>)[name];
}
