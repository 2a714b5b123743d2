import { InvokeCommand, type LambdaClient } from '@aws-sdk/client-lambda';
import type { CollectorPayload } from '@fanout/shared';

/** Hands the unfinished tasks of a batch to a new asynchronous invocation. */
export type InvokeContinuation = (payload: CollectorPayload) => Promise<void>;

/** Async (`Event`) self-invocation through the Lambda Invoke API. */
export function lambdaContinuationInvoker(
  client: LambdaClient,
  functionName: string,
): InvokeContinuation {
  return async (payload) => {
    await client.send(
      new InvokeCommand({
        FunctionName: functionName,
        InvocationType: 'Event',
        Payload: new TextEncoder().encode(JSON.stringify(payload)),
      }),
    );
  };
}

/** Error names of the Invoke API that a later attempt may not hit. */
const TRANSIENT_INVOKE_ERRORS = new Set([
  'TooManyRequestsException',
  'ServiceException',
  'EC2ThrottledException',
  'ResourceConflictException',
  'ResourceNotReadyException',
  'SnapStartNotReadyException',
]);

/**
 * Whether a failed Invoke is worth retrying: throttles, service errors and
 * failures without any HTTP response (network). A missing function or a
 * rejected payload stays broken however often it is retried.
 */
export function isTransientInvokeError(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return true;
  const { name, $metadata } = error as { name?: unknown; $metadata?: { httpStatusCode?: number } };
  if (typeof name === 'string' && TRANSIENT_INVOKE_ERRORS.has(name)) return true;
  const status = $metadata?.httpStatusCode;
  if (status === undefined) return true;
  return status === 429 || status >= 500;
}
