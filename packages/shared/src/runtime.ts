/** The part of the Lambda context the functions use; the local cloud provides the same. */
export interface LambdaContext {
  readonly awsRequestId: string;
  readonly functionName: string;
  readonly invokedFunctionArn: string;
  readonly memoryLimitInMB: string;
  getRemainingTimeInMillis(): number;
}

type LogAttributes = Record<string, unknown>;

/**
 * What core logic needs of a logger; Powertools' Logger satisfies it. Errors go
 * in attributes (`log.error('failed', { key, error })`).
 */
export interface Log {
  debug(message: string, ...extra: LogAttributes[]): void;
  info(message: string, ...extra: LogAttributes[]): void;
  warn(message: string, ...extra: LogAttributes[]): void;
  error(message: string, ...extra: LogAttributes[]): void;
}

/** A clock, injected so time budgets are testable. */
export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };
