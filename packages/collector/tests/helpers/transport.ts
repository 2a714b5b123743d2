import { Readable } from 'node:stream';
import type { S3Client } from '@aws-sdk/client-s3';
import type { PackHeader } from '@fanout/shared';
import type { HttpRequest, HttpResponse, HttpTransport } from '../../src/index.js';
import { readBackPack } from './packs.js';

export type Reply =
  | {
      status: number;
      headers?: Record<string, string>;
      body?: string | Buffer;
      chunkBytes?: number;
    }
  | { hang: true }
  | { error: Error };

export type ScriptedTransport = HttpTransport & { readonly requests: HttpRequest[] };

/** A transport answering from a script: no sockets, every request recorded. */
export function scriptedTransport(
  script: (request: HttpRequest, index: number) => Reply | Promise<Reply>,
): ScriptedTransport {
  const requests: HttpRequest[] = [];
  const transport = async (request: HttpRequest): Promise<HttpResponse> => {
    requests.push(request);
    const reply = await script(request, requests.length - 1);
    if ('error' in reply) throw reply.error;
    if ('hang' in reply) {
      return new Promise<HttpResponse>((_, reject) => {
        request.signal.addEventListener('abort', () => reject(request.signal.reason), {
          once: true,
        });
      });
    }
    const data =
      typeof reply.body === 'string' ? Buffer.from(reply.body) : (reply.body ?? Buffer.alloc(0));
    const size = reply.chunkBytes ?? 64 * 1024;
    return {
      status: reply.status,
      headers: reply.headers ?? {},
      body: (async function* () {
        for (let i = 0; i < data.length; i += size) yield data.subarray(i, i + size);
      })(),
      discard: () => undefined,
    };
  };
  return Object.assign(transport, { requests });
}

export interface RecordedPut {
  readonly Key: string;
  readonly Body: unknown;
}

/** An S3 client stand-in for unit tests: records PutObject and DeleteObject calls, answers GetObject and HeadObject from them, fails on demand. */
export function fakeS3(options: { fail?: (key: string) => boolean } = {}): S3Client & {
  readonly puts: RecordedPut[];
  readonly deletes: string[];
} {
  const puts: RecordedPut[] = [];
  const deletes: string[] = [];
  const stored = (key: string) => puts.findLast((p) => p.Key === key);
  const client = {
    puts,
    deletes,
    config: {},
    send: async (command: { input: RecordedPut & { IfNoneMatch?: string } }) => {
      const { input } = command;
      if (options.fail?.(input.Key)) {
        throw Object.assign(new Error('We encountered an internal error'), {
          name: 'InternalError',
          $metadata: { httpStatusCode: 500 },
        });
      }
      if (command.constructor.name === 'GetObjectCommand') {
        const put = stored(input.Key);
        if (!put) {
          throw Object.assign(new Error('The specified key does not exist.'), {
            name: 'NoSuchKey',
            $metadata: { httpStatusCode: 404 },
          });
        }
        return { Body: Readable.from([Buffer.from(put.Body as Buffer | string)]) };
      }
      if (command.constructor.name === 'HeadObjectCommand') {
        if (stored(input.Key)) return {};
        throw Object.assign(new Error('Not Found'), {
          name: 'NotFound',
          $metadata: { httpStatusCode: 404 },
        });
      }
      if (command.constructor.name === 'DeleteObjectCommand') {
        deletes.push(input.Key);
        return {};
      }
      if (input.IfNoneMatch === '*' && stored(input.Key)) {
        throw Object.assign(
          new Error('At least one of the pre-conditions you specified did not hold'),
          {
            name: 'PreconditionFailed',
            $metadata: { httpStatusCode: 412 },
          },
        );
      }
      puts.push(input);
      return {};
    },
  };
  return client as unknown as S3Client & {
    readonly puts: RecordedPut[];
    readonly deletes: string[];
  };
}

/** The JSON document written to `key`. */
export function putJson(s3: { puts: RecordedPut[] }, key: string): unknown {
  return JSON.parse(String(putBody(s3, key)));
}

/** The header of the pack written to `key`. */
export async function putPackHeader(s3: { puts: RecordedPut[] }, key: string): Promise<PackHeader> {
  return (await readBackPack(putBody(s3, key) as Buffer)).header;
}

function putBody(s3: { puts: RecordedPut[] }, key: string): unknown {
  const put = s3.puts.find((p) => p.Key === key);
  if (!put)
    throw new Error(`nothing written to ${key}; wrote ${s3.puts.map((p) => p.Key).join(', ')}`);
  return put.Body;
}
