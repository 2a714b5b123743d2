import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import type { NotificationRule } from '@fanout/shared';
import { authenticate, type Credentials } from './auth.js';
import { NotificationBridge, type NotificationStats } from './bridge.js';
import {
  createLocalS3Client,
  DEFAULT_LOCAL_REGION,
  LOCAL_S3_CREDENTIALS,
  localS3Environment,
} from './client.js';
import { errorXml, type S3Context } from './context.js';
import {
  LocalS3OptionError,
  LocalS3PortInUseError,
  type NotificationDeliveryError,
  S3Error,
} from './errors.js';
import { MAX_KEY_BYTES } from './key-paths.js';
import { MultipartStore } from './multipart.js';
import type { S3Event } from './notifications.js';
import { ObjectStore } from './object-store.js';
import { classifyS3Request, S3_OPERATIONS, type S3Operation } from './operations.js';
import { type RecoveryReport, recoverStore } from './recovery.js';
import { route } from './router.js';
import { document, element } from './xml.js';

export interface LocalS3Faults {
  /** Fraction of requests on `endpoint` answered with 503 SlowDown instead of being served. */
  readonly errorRate?: number;
  /** Fraction of notifications delivered twice (S3 delivers at least once). */
  readonly duplicateNotificationRate?: number;
}

/** One line of the server's log (JSON): every request that failed on the server's side. */
export interface LocalS3LogEntry {
  readonly level: 'error';
  readonly message: string;
  readonly requestId: string;
  readonly method: string;
  readonly path: string;
  readonly error: string;
}

export interface LocalS3Options {
  /** Objects are kept under `<home>/s3` and survive restarts. */
  readonly home: string;
  /** Created on start when missing; its notification configuration is `notification`. */
  readonly bucket: string;
  /** Default 127.0.0.1. */
  readonly host?: string;
  /** Port of `endpoint`; default 0 (a free port). */
  readonly port?: number;
  /** Default us-east-1. */
  readonly region?: string;
  readonly notification: NotificationRule;
  /** The function ARN GetBucketNotificationConfiguration names; default a local ARN of `notification.function`. */
  readonly notificationTargetArn?: string;
  /** Hands one notification to its target (asynchronously, like S3 invoking Lambda). */
  readonly deliver: (event: S3Event) => Promise<void>;
  /** Default `<function>-<prefix>` of the rule. */
  readonly configurationId?: string;
  /** Accepted credentials; default LOCAL_S3_CREDENTIALS. */
  readonly credentials?: readonly Credentials[];
  readonly faults?: LocalS3Faults;
  /** Source of randomness for fault injection; default Math.random. */
  readonly random?: () => number;
  /** Waits between attempts when `deliver` rejects; the event is dropped after the last. */
  readonly deliveryRetryDelaysMs?: readonly number[];
  readonly onDeliveryError?: (error: NotificationDeliveryError, event: S3Event) => void;
  /** Where failed requests are logged; default one JSON line each on stderr. */
  readonly log?: (entry: LocalS3LogEntry) => void;
}

export interface LocalS3Stats extends NotificationStats {
  /** Requests served on `endpoint`, by S3 billing class (injected errors not included). */
  readonly requests: Readonly<Record<S3Operation, number>>;
  readonly totalRequests: number;
  /** 503 SlowDown answers made up by the fault injection. */
  readonly injectedErrors: number;
  /** Requests answered 500 because their handler failed (each logged with its request id). */
  readonly internalErrors: number;
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

/** Runs `respond` once the request body is read (or the client is gone), so the client reads the answer, not a reset. */
function afterBody(req: IncomingMessage, respond: () => void): void {
  let done = false;
  const once = () => {
    if (done) return;
    done = true;
    respond();
  };
  if (req.complete || req.readableEnded || req.destroyed) {
    once();
    return;
  }
  req.once('end', once);
  req.once('close', once);
  req.resume();
}

function sendError(
  req: IncomingMessage,
  res: ServerResponse,
  error: S3Error,
  requestId: string,
  hostId: string,
  resource: string,
): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = Buffer.from(errorXml(error, resource, requestId, hostId));
  afterBody(req, () => {
    if (res.headersSent || res.destroyed) return;
    res.writeHead(error.status, {
      ...error.headers,
      'content-type': 'application/xml',
      'content-length': req.method === 'HEAD' ? 0 : body.length,
    });
    res.end(req.method === 'HEAD' ? undefined : body);
  });
}

function decodePath(rawPath: string): { bucket?: string; key?: string } {
  const path = rawPath.startsWith('/') ? rawPath.slice(1) : rawPath;
  const slash = path.indexOf('/');
  const rawBucket = slash === -1 ? path : path.slice(0, slash);
  const rawKey = slash === -1 ? undefined : path.slice(slash + 1);
  try {
    const bucket = decodeURIComponent(rawBucket);
    // An empty key after the bucket's slash (`/bucket/`) is the bucket itself.
    const key = rawKey === undefined || rawKey === '' ? undefined : decodeURIComponent(rawKey);
    return { ...(bucket ? { bucket } : {}), ...(key !== undefined ? { key } : {}) };
  } catch {
    throw new S3Error(400, 'InvalidURI', "Couldn't parse the specified URI.", { URI: rawPath });
  }
}

const slowDown = () => new S3Error(503, 'SlowDown', 'Please reduce your request rate.');

async function listen(server: Server, host: string, port: number): Promise<string> {
  await new Promise<void>((resolve, reject) => {
    const fail = (error: NodeJS.ErrnoException) => {
      reject(error.code === 'EADDRINUSE' ? new LocalS3PortInUseError(port, host) : error);
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

function notificationXml(options: LocalS3Options, region: string, configurationId: string): string {
  const rule = options.notification;
  const arn =
    options.notificationTargetArn ??
    `arn:aws:lambda:${region}:000000000000:function:${rule.function}`;
  const filters = [
    rule.prefix
      ? `<FilterRule>${element('Name', 'Prefix')}${element('Value', rule.prefix)}</FilterRule>`
      : '',
    rule.suffix
      ? `<FilterRule>${element('Name', 'Suffix')}${element('Value', rule.suffix)}</FilterRule>`
      : '',
  ].join('');
  const events = rule.events.map((event) => element('Event', event)).join('');
  return document(
    'NotificationConfiguration',
    `<CloudFunctionConfiguration>${element('Id', configurationId)}${element('CloudFunction', arn)}${events}${
      filters ? `<Filter><S3Key>${filters}</S3Key></Filter>` : ''
    }</CloudFunctionConfiguration>`,
  );
}

/**
 * Starts the local S3 server on two in-process HTTP listeners over one store:
 * `endpoint` counts requests and injects faults, `serverEndpoint` serves the same
 * store untouched. Object-created events become S3 notifications (NotificationBridge).
 * No request can end the process: a handler that fails answers its own 500, logged
 * with the request id.
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
  const credentials = options.credentials ?? [LOCAL_S3_CREDENTIALS];
  const log =
    options.log ?? ((entry: LocalS3LogEntry) => process.stderr.write(`${JSON.stringify(entry)}\n`));
  const directory = join(options.home, 's3');
  await mkdir(directory, { recursive: true });

  // Before anything is served: a killed process may have left writes half done.
  const recovery = await recoverStore(directory);
  const store = new ObjectStore(directory);
  const uploads = new MultipartStore(directory);
  await uploads.tidy();
  await store.createBucket(options.bucket);

  const rule = options.notification;
  const configurationId =
    options.configurationId ?? `${rule.function}-${rule.prefix.replace(/\W+/g, '')}`;
  const bridge = new NotificationBridge({
    rule,
    region,
    configurationId,
    deliver: options.deliver,
    duplicateRate,
    random,
    ...(options.deliveryRetryDelaysMs ? { retryDelaysMs: options.deliveryRetryDelaysMs } : {}),
    ...(options.onDeliveryError ? { onDeliveryError: options.onDeliveryError } : {}),
  });
  const notification = notificationXml(options, region, configurationId);
  let internalErrors = 0;

  const serve = async (
    req: IncomingMessage,
    res: ServerResponse,
    injectFaults: boolean,
  ): Promise<void> => {
    const requestId = randomBytes(8).toString('hex').toUpperCase();
    const hostId = randomBytes(24).toString('base64');
    res.setHeader('x-amz-request-id', requestId);
    res.setHeader('x-amz-id-2', hostId);
    res.setHeader('server', 'AmazonS3');
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const rawPath = q === -1 ? url : url.slice(0, q);
    const rawQuery = q === -1 ? '' : url.slice(q + 1);
    try {
      if (injectFaults && errorRate > 0 && random() < errorRate) {
        injectedErrors += 1;
        throw slowDown();
      }
      if (injectFaults)
        requests[classifyS3Request(req.method ?? 'GET', url, req.headers).operation] += 1;
      const { bucket, key } = decodePath(rawPath);
      if (key !== undefined && Buffer.byteLength(key) > MAX_KEY_BYTES) {
        throw new S3Error(400, 'KeyTooLongError', 'Your key is too long', {
          Size: Buffer.byteLength(key),
          MaxSizeAllowed: MAX_KEY_BYTES,
        });
      }
      if (key?.includes('\0'))
        throw new S3Error(400, 'InvalidArgument', 'Object keys cannot contain a NUL character');
      const auth = authenticate(req, rawPath, rawQuery, credentials);
      const ctx: S3Context = {
        req,
        res,
        requestId,
        hostId,
        method: req.method ?? 'GET',
        rawPath,
        query: new URLSearchParams(rawQuery),
        ...(bucket !== undefined ? { bucket } : {}),
        ...(key !== undefined ? { key } : {}),
        auth,
        store,
        uploads,
        notificationConfiguration: (name) =>
          name === options.bucket ? notification : document('NotificationConfiguration', ''),
        notify: (created) =>
          bridge.accept({
            ...created,
            eventTime: new Date().toISOString(),
            sourceIPAddress: (req.socket.remoteAddress ?? '127.0.0.1').replace(/^::ffff:/, ''),
            requestId,
            hostId,
          }),
      };
      await route(ctx);
    } catch (error) {
      let answer: S3Error;
      if (error instanceof S3Error) {
        answer = error;
      } else {
        internalErrors += 1;
        log({
          level: 'error',
          message: 'request failed',
          requestId,
          method: req.method ?? '',
          path: rawPath,
          error: error instanceof Error ? (error.stack ?? error.message) : String(error),
        });
        answer = new S3Error(
          500,
          'InternalError',
          'We encountered an internal error. Please try again.',
        );
      }
      sendError(req, res, answer, requestId, hostId, rawPath);
    }
  };
  const handler = (injectFaults: boolean) => (req: IncomingMessage, res: ServerResponse) => {
    serve(req, res, injectFaults).catch(() => res.destroy());
  };

  const requests = Object.fromEntries(
    [...S3_OPERATIONS, 'OTHER'].map((operation) => [operation, 0]),
  ) as Record<S3Operation, number>;
  let injectedErrors = 0;
  const makeServer = (injectFaults: boolean) => {
    const server = createServer(handler(injectFaults));
    // S3 ignores expectations other than 100-continue; Node would answer 417.
    server.on('checkExpectation', handler(injectFaults));
    return server;
  };
  const serverHttp = makeServer(false);
  const serverEndpoint = await listen(serverHttp, host, 0);
  const publicHttp = makeServer(true);
  let endpoint: string;
  try {
    endpoint = await listen(publicHttp, host, options.port ?? 0);
  } catch (error) {
    await close(serverHttp);
    throw error;
  }
  const client = createLocalS3Client(serverEndpoint, region);

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
      internalErrors,
      ...bridge.stats(),
    }),
    async stop() {
      bridge.stop();
      await Promise.all([close(publicHttp), close(serverHttp)]);
      client.destroy();
    },
  };
}
