import { LocalCloudError } from '../errors.js';

/**
 * Errors of the local Lambda endpoint. Each one that AWS also returns carries the
 * HTTP status and `x-amzn-errortype` AWS uses, so the SDK raises the same typed
 * exception against the local endpoint as against AWS.
 */
export class LocalLambdaError extends LocalCloudError {
  override name = 'LocalLambdaError';
}

/** An error the Invoke API answers with; `errorType` goes to `x-amzn-errortype`. */
export abstract class InvokeApiError extends LocalLambdaError {
  abstract readonly statusCode: number;
  abstract readonly errorType: string;
  /** Extra fields AWS puts in the JSON error body beside `message` and `Type`. */
  readonly bodyFields: Record<string, string> = {};
}

export class FunctionNotFoundError extends InvokeApiError {
  override name = 'FunctionNotFoundError';
  readonly statusCode = 404;
  readonly errorType = 'ResourceNotFoundException';
  constructor(readonly functionArn: string) {
    super(`Function not found: ${functionArn}`);
  }
}

/**
 * AWS answers an oversized payload with `RequestEntityTooLargeException` (413), a
 * code the JS SDK has no class for: callers see a LambdaServiceException with that
 * `name`, not the SDK's `RequestTooLargeException` class (aws/aws-sdk#45).
 */
export class RequestTooLargeError extends InvokeApiError {
  override name = 'RequestTooLargeError';
  readonly statusCode = 413;
  readonly errorType = 'RequestEntityTooLargeException';
  constructor(
    readonly sizeBytes: number,
    readonly limitBytes: number,
    invocationType: 'Event' | 'RequestResponse' | 'DryRun',
  ) {
    // The two wordings AWS uses for the async and the sync limit.
    super(
      invocationType === 'Event'
        ? `${sizeBytes} byte payload is too large for the Event invocation type (limit ${limitBytes} bytes)`
        : `Request must be smaller than ${limitBytes} bytes for the InvokeFunction operation`,
    );
  }
}

export class InvalidRequestContentError extends InvokeApiError {
  override name = 'InvalidRequestContentError';
  readonly statusCode = 400;
  readonly errorType = 'InvalidRequestContentException';
}

export class InvalidParameterValueError extends InvokeApiError {
  override name = 'InvalidParameterValueError';
  readonly statusCode = 400;
  readonly errorType = 'InvalidParameterValueException';
}

export class TooManyRequestsError extends InvokeApiError {
  override name = 'TooManyRequestsError';
  readonly statusCode = 429;
  readonly errorType = 'TooManyRequestsException';
  override readonly bodyFields = { Reason: 'ReservedFunctionConcurrentInvocationLimitExceeded' };
  constructor(readonly functionName: string) {
    super('Rate Exceeded.');
  }
}

export class UnknownOperationError extends InvokeApiError {
  override name = 'UnknownOperationError';
  readonly statusCode = 404;
  readonly errorType = 'UnknownOperationException';
  constructor(
    readonly method: string,
    readonly path: string,
  ) {
    super(`The local Lambda endpoint implements only Invoke; got ${method} ${path}`);
  }
}

export class DeadLetterNotFoundError extends LocalLambdaError {
  override name = 'DeadLetterNotFoundError';
  constructor(readonly id: string) {
    super(`no dead letter with id ${JSON.stringify(id)}`);
  }
}

/** The configuration handed to `LocalLambda` cannot run. */
export class LocalLambdaConfigError extends LocalLambdaError {
  override name = 'LocalLambdaConfigError';
}
