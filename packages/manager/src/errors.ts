/** Base class of every error the manager raises. */
export class ManagerError extends Error {
  override name = 'ManagerError';
}

/** A setting in the environment is missing or malformed. Raised at cold start. */
export class ConfigError extends ManagerError {
  override name = 'ConfigError';
  constructor(
    /** The environment variable at fault. */
    readonly variable: string,
    reason: string,
  ) {
    super(`${variable}: ${reason}`);
  }
}

/**
 * An S3 request failed in a way a retry may fix (5xx, throttling, network).
 * Thrown so Lambda's asynchronous retry runs the event again.
 */
export class StorageError extends ManagerError {
  override name = 'StorageError';
  constructor(
    readonly key: string,
    readonly operation: string,
    override readonly cause: unknown,
  ) {
    super(`${operation} ${key} failed: ${cause instanceof Error ? cause.message : String(cause)}`);
  }
}

/** A collector invocation failed after every attempt, or the collector reported an error. */
export class DispatchError extends ManagerError {
  override name = 'DispatchError';
  constructor(
    readonly runId: string,
    readonly batchId: string,
    readonly attempts: number,
    reason: string,
  ) {
    super(
      `batch ${batchId} of run ${runId} not dispatched after ${attempts} attempt(s): ${reason}`,
    );
  }
}

/** A dispatch part names a run that has no run manifest, or batches the run does not have. */
export class UnknownRunError extends ManagerError {
  override name = 'UnknownRunError';
  constructor(
    readonly runId: string,
    reason: string,
  ) {
    super(`run ${runId}: ${reason}`);
  }
}
