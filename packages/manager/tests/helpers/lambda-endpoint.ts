import type { IncomingMessage, ServerResponse } from 'node:http';
import { LambdaClient } from '@aws-sdk/client-lambda';
import {
  LOCAL_CREDENTIALS,
  LOCAL_REGION,
  startTestHttp,
  type TestHttpServer,
} from '@fanout/testkit';

export interface ReceivedInvoke {
  readonly functionName: string;
  /** The `x-amz-invocation-type` header: `Event`, `RequestResponse`, or absent (RequestResponse). */
  readonly invocationType: string | undefined;
  readonly payload: unknown;
  readonly bytes: number;
}

export interface Reply {
  readonly status: number;
  readonly headers?: Record<string, string>;
  readonly body?: string;
}

export type Responder = (invoke: ReceivedInvoke, index: number) => Reply;

export interface LambdaEndpoint {
  readonly url: string;
  readonly invokes: ReceivedInvoke[];
  /** Replaces how the endpoint answers from now on. */
  respondWith(responder: Responder): void;
  /** A real SDK client pointed at this endpoint, one attempt per call as the handler builds it. */
  client(): LambdaClient;
  stop(): Promise<void>;
}

const INVOKE_PATH = /^\/2015-03-31\/functions\/([^/]+)\/invocations/;

/** 202 for Event, 200 with a null result for RequestResponse: what Lambda answers. */
export const accept: Responder = (invoke) =>
  invoke.invocationType === 'Event' ? { status: 202 } : { status: 200, body: 'null' };

/** Lambda's throttling answer, as the SDK expects it on the wire. */
export const throttle: Reply = {
  status: 429,
  headers: { 'x-amzn-errortype': 'TooManyRequestsException', 'content-type': 'application/json' },
  body: JSON.stringify({
    message: 'Rate exceeded',
    Type: 'User',
    Reason: 'ReservedFunctionConcurrentInvocationLimitExceeded',
  }),
};

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** A real HTTP server speaking the Lambda Invoke API (`POST /2015-03-31/functions/{name}/invocations`). */
export async function startLambdaEndpoint(initial: Responder = accept): Promise<LambdaEndpoint> {
  let responder = initial;
  const invokes: ReceivedInvoke[] = [];
  const clients: LambdaClient[] = [];
  const server: TestHttpServer = await startTestHttp(
    async (req: IncomingMessage, res: ServerResponse) => {
      const match = INVOKE_PATH.exec(req.url ?? '');
      const body = await readBody(req);
      if (req.method !== 'POST' || !match?.[1]) {
        res.writeHead(404, { 'x-amzn-errortype': 'ResourceNotFoundException' });
        res.end(JSON.stringify({ message: `no route ${req.method} ${req.url}` }));
        return;
      }
      const header = req.headers['x-amz-invocation-type'];
      const invoke: ReceivedInvoke = {
        functionName: decodeURIComponent(match[1]),
        invocationType: typeof header === 'string' ? header : undefined,
        payload: JSON.parse(body.toString('utf8')),
        bytes: body.length,
      };
      const index = invokes.length;
      invokes.push(invoke);
      const reply = responder(invoke, index);
      res.writeHead(reply.status, reply.headers ?? {});
      res.end(reply.body ?? '');
    },
  );
  return {
    url: server.url,
    invokes,
    respondWith(next) {
      responder = next;
    },
    client() {
      const client = new LambdaClient({
        endpoint: server.url,
        region: LOCAL_REGION,
        credentials: LOCAL_CREDENTIALS,
        maxAttempts: 1,
      });
      clients.push(client);
      return client;
    },
    async stop() {
      for (const client of clients) client.destroy();
      await server.stop();
    },
  };
}
