import { AsyncLocalStorage } from 'node:async_hooks';
import { randomBytes } from 'node:crypto';
import type { EventEmitter } from 'node:events';
import { mkdir } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { NotificationRule } from '@fanout/shared';
import S3rver from 's3rver';
import { NotificationBridge, type NotificationStats } from './bridge.js';
import { createLocalS3Client, DEFAULT_LOCAL_REGION, localS3Environment } from './client.js';
import { LocalS3Error, LocalS3OptionError, type NotificationDeliveryError } from './errors.js';
import { MAX_KEY_BYTES } from './key-paths.js';
import type { ObjectCreated, S3Event } from './notifications.js';
import { LocalObjectStore } from './object-store.js';
import {
  type ClassifiedRequest,
  classifyS3Request,
  S3_OPERATIONS,
  type S3Operation,
} from './operations.js';
import { type RecoveryReport, recoverStore } from './recovery.js';
import { objectCreatedFromS3rver } from './s3rver-events.js';

export interface LocalS3Faults {
  /** Fraction of requests on `endpoint` answered with 503 SlowDown instead of being served. */
  readonly errorRate?: number;
  /** Fraction of notifications delivered twice (S3 delivers at least once). */
  readonly duplicateNotificationRate?: number;
}

export interface LocalS3Options {
  /** Objects are kept under `<home>/s3` and survive restarts. */
  readonly home: string;
  /** Created on start when missing. */
  readonly bucket: string;
  /** Default 127.0.0.1. */
  readonly host?: string;
  /** Port of `endpoint`; default 0 (a free port). */
  readonly port?: number;
  /** Default us-east-1. */
  readonly region?: string;
  readonly notification: NotificationRule;
  /** Hands one notification to its target (asynchronously, like S3 invoking Lambda). */
  readonly deliver: (event: S3Event) => Promise<void>;
  /** Default `<function>-<prefix>` of the rule. */
  readonly configurationId?: string;
  readonly faults?: LocalS3Faults;
  /** Source of randomness for fault injection; default Math.random. */
  readonly random?: () => number;
  /** Waits between attempts when `deliver` rejects; the event is dropped after the last. */
  readonly deliveryRetryDelaysMs?: readonly number[];
  readonly onDeliveryError?: (error: NotificationDeliveryError, event: S3Event) => void;
}

export interface LocalS3Stats extends NotificationStats {
  /** Requests served on `endpoint`, by S3 billing class (injected errors not included). */
  readonly requests: Readonly<Record<S3Operation, number>>;
  readonly totalRequests: number;
  /** 503 SlowDown answers made up by the fault injection. */
  readonly injectedErrors: number;
}

export interface LocalS3 {
  /** For the functions, the AWS CLI and SDKs: counted, and subject to injected faults. */
  readonly endpoint: string;
  /** The same store without fault injection or counting, for the local cloud's own use. */
  readonly serverEndpoint: string;
  /** A client on `serverEndpoint`. */
  readonly client: S3Client;
  readonly bucket: string;
  readonly region: string;
  /** Environment that points an unmodified SDK client at `endpoint`. */
  readonly env: Record<string, string>;
  /** What the start found left half-written by a killed process, and repaired. */
  readonly recovery: RecoveryReport;
  pendingNotifications(): number;
  /** Resolves once every notification so far has been delivered (or given up on). */
  drained(): Promise<void>;
  stats(): LocalS3Stats;
  stop(): Promise<void>;
}

function checkRate(option: string, value: number | undefined): number {
  const rate = value ?? 0;
  if (!Number.isFinite(rate) || rate < 0 || rate > 1) {
    throw new LocalS3OptionError(option, 'must be a number from 0 to 1', value);
  }
  return rate;
}

/** The error body S3 sends when it throttles a request. */
export function slowDownBody(requestId: string): string {
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    '<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message>',
    `<RequestId>${requestId}</RequestId><HostId>${requestId}</HostId></Error>`,
  ].join('');
}

/** The error body S3 sends for a key over 1,024 bytes. */
export function keyTooLongBody(requestId: string, size: number): string {
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    '<Error><Code>KeyTooLongError</Code><Message>Your key is too long</Message>',
    `<Size>${size}</Size><MaxSizeAllowed>${MAX_KEY_BYTES}</MaxSizeAllowed>`,
    `<RequestId>${requestId}</RequestId><HostId>${requestId}</HostId></Error>`,
  ].join('');
}

/** Answers with an S3 error once the request body is read, so the client sees the answer, not a reset connection. */
function answerError(
  req: IncomingMessage,
  res: ServerResponse,
  status: number,
  body: (requestId: string) => string,
): void {
  const requestId = randomBytes(8).toString('hex').toUpperCase();
  const text = body(requestId);
  const respond = () => {
    res.writeHead(status, {
      'content-type': 'application/xml',
      'content-length': Buffer.byteLength(text),
      'x-amz-request-id': requestId,
    });
    res.end(req.method === 'HEAD' ? undefined : text);
  };
  req.on('end', respond);
  req.on('error', () => res.destroy());
  req.resume();
}

async function listen(server: Server, host: string, port: number): Promise<string> {
  await new Promise<void>((resolve, reject) => {
    const fail = (error: NodeJS.ErrnoException) => {
      reject(
        error.code === 'EADDRINUSE'
          ? new LocalS3Error(`port ${port} on ${host} is in use: choose another port for S3`)
          : error,
      );
    };
    server.once('error', fail);
    server.listen(port, host, () => {
      server.off('error', fail);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  return `http://${host}:${address.port}`;
}

function close(server: Server): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) return resolve();
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

/**
 * Starts s3rver behind two in-process HTTP listeners (no proxy hop): `endpoint`
 * counts requests and injects faults, `serverEndpoint` serves the same store
 * untouched. Object-created events become S3 notifications (see NotificationBridge).
 */
export async function startLocalS3(options: LocalS3Options): Promise<LocalS3> {
  const errorRate = checkRate('faults.errorRate', options.faults?.errorRate);
  const duplicateRate = checkRate(
    'faults.duplicateNotificationRate',
    options.faults?.duplicateNotificationRate,
  );
  const host = options.host ?? '127.0.0.1';
  const region = options.region ?? DEFAULT_LOCAL_REGION;
  const random = options.random ?? Math.random;
  const directory = join(options.home, 's3');
  await mkdir(directory, { recursive: true });

  // Before anything is served: a killed process may have left writes half done.
  const recovery = await recoverStore(directory);
  const s3rver = new S3rver({
    directory,
    silent: true,
    configureBuckets: [{ name: options.bucket, configs: [] }],
  });
  // s3rver emits its event while handling the write, and the store checks the
  // write's conditions as it commits; this tells both which request it was.
  const currentRequest = new AsyncLocalStorage<ClassifiedRequest>();
  useStore(
    s3rver,
    new LocalObjectStore(directory, () => {
      const ifNoneMatch = currentRequest.getStore()?.ifNoneMatch;
      return ifNoneMatch === undefined ? undefined : { ifNoneMatch };
    }),
  );
  await s3rver.configureBuckets();
  const s3rverCallback = s3rver.callback() as (req: IncomingMessage, res: ServerResponse) => void;
  const serve = (classified: ClassifiedRequest, req: IncomingMessage, res: ServerResponse) => {
    const keyBytes = Buffer.byteLength(classified.key ?? '');
    if (keyBytes > MAX_KEY_BYTES) {
      answerError(req, res, 400, (requestId) => keyTooLongBody(requestId, keyBytes));
      return;
    }
    currentRequest.run(classified, () => s3rverCallback(req, res));
  };

  const serverHttp = createServer((req, res) => {
    serve(classifyS3Request(req.method ?? 'GET', req.url ?? '/', req.headers), req, res);
  });
  const serverEndpoint = await listen(serverHttp, host, 0);
  const client = createLocalS3Client(serverEndpoint, region);

  const rule = options.notification;
  const bridge = new NotificationBridge({
    rule,
    region,
    configurationId:
      options.configurationId ?? `${rule.function}-${rule.prefix.replace(/\W+/g, '')}`,
    deliver: options.deliver,
    duplicateRate,
    random,
    ...(options.deliveryRetryDelaysMs ? { retryDelaysMs: options.deliveryRetryDelaysMs } : {}),
    ...(options.onDeliveryError ? { onDeliveryError: options.onDeliveryError } : {}),
    complete: (created) => withETag(client, created),
  });
  (s3rver as unknown as EventEmitter).on('event', (emitted: unknown) => {
    const request = currentRequest.getStore();
    const created = objectCreatedFromS3rver(emitted, request?.completesMultipartUpload ?? false);
    if (created) bridge.accept(created);
  });

  const requests = Object.fromEntries(
    [...S3_OPERATIONS, 'OTHER'].map((operation) => [operation, 0]),
  ) as Record<S3Operation, number>;
  let injectedErrors = 0;
  const publicHttp = createServer((req, res) => {
    const classified = classifyS3Request(req.method ?? 'GET', req.url ?? '/', req.headers);
    if (errorRate > 0 && random() < errorRate) {
      injectedErrors += 1;
      answerError(req, res, 503, slowDownBody);
      return;
    }
    requests[classified.operation] += 1;
    serve(classified, req, res);
  });
  let endpoint: string;
  try {
    endpoint = await listen(publicHttp, host, options.port ?? 0);
  } catch (error) {
    await close(serverHttp);
    throw error;
  }

  return {
    endpoint,
    serverEndpoint,
    client,
    bucket: options.bucket,
    region,
    env: localS3Environment(endpoint, region),
    recovery,
    pendingNotifications: () => bridge.pending(),
    drained: () => bridge.drained(),
    stats: () => ({
      requests: { ...requests },
      totalRequests: Object.values(requests).reduce((sum, count) => sum + count, 0),
      injectedErrors,
      ...bridge.stats(),
    }),
    async stop() {
      bridge.stop();
      await Promise.all([close(publicHttp), close(serverHttp)]);
      client.destroy();
    },
  };
}

/** Puts `store` in place of s3rver's own (its constructor made one; the controllers use `ctx.store`). */
function useStore(s3rver: S3rver, store: LocalObjectStore): void {
  const server = s3rver as unknown as { store: unknown; context: { store: unknown } };
  if (!server.context || !('store' in server)) {
    throw new LocalS3Error('s3rver has no store to replace (s3rver version changed?)');
  }
  server.store = store;
  server.context.store = store;
}

/** s3rver's copy event has no ETag; S3's has one. */
async function withETag(client: S3Client, created: ObjectCreated): Promise<ObjectCreated> {
  if (created.eTag !== undefined) return created;
  const head = await client.send(
    new HeadObjectCommand({ Bucket: created.bucket, Key: created.key }),
  );
  return head.ETag ? { ...created, eTag: head.ETag.replace(/"/g, '') } : created;
}
