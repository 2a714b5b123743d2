import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { SYNC_INVOKE_PAYLOAD_LIMIT_BYTES } from '@fanout/shared';
import {
  InvalidParameterValueError,
  InvokeApiError,
  RequestTooLargeError,
  UnknownOperationError,
} from './errors.js';
import type { InvocationType, InvokeRequest, InvokeResult } from './local-lambda.js';

/** The Invoke route as @aws-sdk/client-lambda builds it. */
const INVOKE_PATH = /^\/2015-03-31\/functions\/([^/]+)\/invocations\/?$/;

/**
 * `FunctionName` may be a name, a partial ARN (`123456789012:function:name`) or a
 * full ARN, each optionally ending in `:qualifier`.
 */
const FUNCTION_REFERENCE =
  /^(?:arn:aws[a-zA-Z-]*:lambda:[a-z0-9-]+:)?(?:\d{12}:function:)?([a-zA-Z0-9_-]+)(?::([a-zA-Z0-9$_-]+))?$/;

export interface InvokeTarget {
  invoke(request: InvokeRequest): Promise<InvokeResult>;
}

export function createInvokeServer(target: InvokeTarget): Server {
  return createServer((req, res) => {
    handle(target, req, res).catch((error: unknown) => {
      if (error instanceof InvokeApiError) {
        sendError(res, error);
        return;
      }
      res.writeHead(500, {
        'content-type': 'application/json',
        'x-amzn-errortype': 'ServiceException',
      });
      res.end(JSON.stringify({ message: String(error), Type: 'Service' }));
    });
  });
}

async function handle(target: InvokeTarget, req: IncomingMessage, res: ServerResponse) {
  const url = new URL(req.url ?? '/', 'http://local');
  const match = INVOKE_PATH.exec(url.pathname);
  // The body is always read to the end: answering before it is consumed would
  // reset the connection while the client is still sending a large payload.
  const body = await readBody(req, SYNC_INVOKE_PAYLOAD_LIMIT_BYTES * 2);
  if (req.method !== 'POST' || !match?.[1]) {
    throw new UnknownOperationError(req.method ?? 'GET', url.pathname);
  }
  const reference = parseFunctionReference(decodeURIComponent(match[1]));
  const qualifier = url.searchParams.get('Qualifier') ?? reference.qualifier;
  const invocationType = parseInvocationType(req.headers['x-amz-invocation-type']);
  if (body.truncated) {
    throw new RequestTooLargeError(body.size, SYNC_INVOKE_PAYLOAD_LIMIT_BYTES, invocationType);
  }
  const result = await target.invoke({
    functionName: reference.name,
    ...(qualifier === undefined ? {} : { qualifier }),
    invocationType,
    payload: body.text,
  });
  send(res, result);
}

function send(res: ServerResponse, result: InvokeResult): void {
  switch (result.type) {
    case 'DryRun':
      res.writeHead(204);
      res.end();
      return;
    case 'Event':
      res.writeHead(202, { 'x-amzn-requestid': result.requestId });
      res.end();
      return;
    case 'RequestResponse': {
      const headers: Record<string, string> = {
        'content-type': 'application/json',
        'x-amzn-requestid': result.requestId,
        'x-amz-executed-version': '$LATEST',
      };
      if (result.ok) {
        res.writeHead(200, headers);
        res.end(result.body);
        return;
      }
      res.writeHead(200, { ...headers, 'x-amz-function-error': 'Unhandled' });
      res.end(JSON.stringify(result.error));
      return;
    }
  }
}

function sendError(res: ServerResponse, error: InvokeApiError): void {
  res.writeHead(error.statusCode, {
    'content-type': 'application/json',
    'x-amzn-errortype': error.errorType,
  });
  res.end(JSON.stringify({ ...error.bodyFields, Type: 'User', message: error.message }));
}

export function parseFunctionReference(reference: string): { name: string; qualifier?: string } {
  const match = FUNCTION_REFERENCE.exec(reference);
  if (!match?.[1]) {
    throw new InvalidParameterValueError(
      `1 validation error detected: Value '${reference}' at 'functionName' failed to satisfy constraint: Member must satisfy regular expression pattern`,
    );
  }
  return match[2] === undefined ? { name: match[1] } : { name: match[1], qualifier: match[2] };
}

function parseInvocationType(header: string | string[] | undefined): InvocationType {
  const value = Array.isArray(header) ? header[0] : header;
  if (value === undefined || value === 'RequestResponse') return 'RequestResponse';
  if (value === 'Event' || value === 'DryRun') return value;
  throw new InvalidParameterValueError(
    `1 validation error detected: Value '${value}' at 'invocationType' failed to satisfy constraint: Member must satisfy enum value set: [Event, RequestResponse, DryRun]`,
  );
}

async function readBody(
  req: IncomingMessage,
  keepBytes: number,
): Promise<{ text: string; size: number; truncated: boolean }> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buffer = chunk as Buffer;
    size += buffer.length;
    if (size <= keepBytes) chunks.push(buffer);
  }
  return { text: Buffer.concat(chunks).toString('utf8'), size, truncated: size > keepBytes };
}
