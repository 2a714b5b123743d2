import type { InvokeCommand, InvokeCommandOutput } from '@aws-sdk/client-lambda';
import type { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { BucketRef, LambdaInvoker } from '../../src/index.js';

/** The SDK wraps the response payload in a blob adapter; the manager only reads its bytes. */
export type FakeInvokeOutput = Omit<Partial<InvokeCommandOutput>, 'Payload'> & {
  Payload?: Uint8Array;
};

export interface InvokeCall {
  readonly functionName: string;
  readonly invocationType: string | undefined;
  readonly payload: unknown;
}

/**
 * A Lambda client for unit tests: records each Invoke and answers with
 * `respond(call, index)`, which may throw an SDK-shaped error.
 */
export class FakeLambda implements LambdaInvoker {
  readonly calls: InvokeCall[] = [];
  constructor(
    private readonly respond: (call: InvokeCall, index: number) => FakeInvokeOutput = () => ({
      StatusCode: 202,
    }),
  ) {}

  async send(command: InvokeCommand): Promise<InvokeCommandOutput> {
    const { FunctionName, InvocationType, Payload } = command.input;
    const call: InvokeCall = {
      functionName: FunctionName ?? '',
      invocationType: InvocationType,
      payload: JSON.parse(
        Buffer.from((Payload as Uint8Array | undefined) ?? new Uint8Array()).toString('utf8'),
      ),
    };
    const index = this.calls.length;
    this.calls.push(call);
    return { $metadata: {}, ...this.respond(call, index) } as InvokeCommandOutput;
  }
}

/** An SDK-shaped service error, as the Lambda client throws it. */
export function awsError(name: string, status: number, message = name): Error {
  return Object.assign(new Error(message), { name, $metadata: { httpStatusCode: status } });
}

/** A bucket whose PutObjects land in a map (for unit tests of code that writes records). */
export function memoryStore(): BucketRef & { readonly objects: Map<string, unknown> } {
  const objects = new Map<string, unknown>();
  const s3 = {
    send: async (command: PutObjectCommand) => {
      const { Key, Body } = command.input;
      objects.set(Key ?? '', JSON.parse(String(Body)));
      return {};
    },
  } as unknown as S3Client;
  return { s3, bucket: 'memory', objects };
}

export const silentLog = { debug() {}, info() {}, warn() {}, error() {} };
