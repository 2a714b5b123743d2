import { randomUUID } from 'node:crypto';
import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import {
  ASYNC_INVOKE_PAYLOAD_LIMIT_BYTES,
  type Log,
  SYNC_INVOKE_PAYLOAD_LIMIT_BYTES,
} from '@fanout/shared';
import { DeadLetterStore } from './dead-letters.js';
import {
  FunctionNotFoundError,
  InvalidRequestContentError,
  LocalLambdaConfigError,
  RequestTooLargeError,
  TooManyRequestsError,
} from './errors.js';
import { FunctionRuntime, functionArn, type InvocationOutcome } from './function-runtime.js';
import { createInvokeServer } from './http.js';
import { afterFailure, emulatedAgeMs } from './retry-policy.js';
import type {
  DeadLetter,
  DeadLetterReason,
  FunctionErrorBody,
  FunctionStats,
  LambdaStats,
  LocalFunctionConfig,
  LocalLambdaOptions,
} from './types.js';

const DEFAULT_RETRY_DELAY_SCALE = 0.001;
const DEFAULT_REGION = 'us-east-1';

/** A sync invocation's response is capped like its request (AWS: 6 MB). */
const SYNC_RESPONSE_LIMIT_BYTES = SYNC_INVOKE_PAYLOAD_LIMIT_BYTES;

const silentLog: Log = { debug() {}, info() {}, warn() {}, error() {} };

interface AsyncEvent {
  /** Identifies this delivery (and its dead-letter file). */
  id: string;
  /**
   * Shared by every attempt of this delivery, as in AWS: Lambda's automatic
   * retries after a function error reuse the request id, so a function can tell
   * its own retry from a new invocation or a duplicate delivery (which has its own id).
   */
  requestId: string;
  payload: string;
  attempts: number;
  firstReceivedAt: number;
  /** Retry waits skipped by scaling, counted into the event's age. */
  skippedWaitMs: number;
  lastError?: FunctionErrorBody;
  lastAttemptAt?: number;
}

interface FunctionState {
  config: LocalFunctionConfig;
  runtime: FunctionRuntime;
  log: WriteStream;
  ready: AsyncEvent[];
  delayed: Map<string, NodeJS.Timeout>;
  running: number;
  stats: Omit<FunctionStats, 'queued' | 'retrying' | 'running'>;
}

export type InvocationType = 'Event' | 'RequestResponse' | 'DryRun';

export interface InvokeRequest {
  functionName: string;
  qualifier?: string;
  invocationType: InvocationType;
  /** The raw request body (JSON text; empty means `{}`). */
  payload: string;
}

/** The result of a RequestResponse invocation, as the Invoke API returns it. */
type SyncInvokeResult =
  | { requestId: string; ok: true; body: string }
  | { requestId: string; ok: false; error: FunctionErrorBody };

export type InvokeResult =
  | { type: 'DryRun' }
  | { type: 'Event'; requestId: string }
  | ({ type: 'RequestResponse' } & SyncInvokeResult);

/**
 * Lambda on one machine: an Invoke endpoint the real SDK talks to, warm worker
 * pools bounded by reserved concurrency, and AWS's async queue (retries, maximum
 * event age, on-failure destination as dead-letter files).
 */
export class LocalLambda {
  private readonly functions = new Map<string, FunctionState>();
  private readonly deadLetterStore: DeadLetterStore;
  private readonly retryDelayScale: number;
  private readonly asyncLimitBytes: number;
  private readonly region: string;
  private readonly random: () => number;
  private readonly log: Log;
  private server: Server | undefined;
  private stopped = false;
  private pendingWrites = 0;
  private drainWaiters: (() => void)[] = [];

  constructor(
    private readonly configs: LocalFunctionConfig[],
    private readonly options: LocalLambdaOptions,
  ) {
    this.retryDelayScale = options.retryDelayScale ?? DEFAULT_RETRY_DELAY_SCALE;
    this.asyncLimitBytes = options.asyncPayloadLimitBytes ?? ASYNC_INVOKE_PAYLOAD_LIMIT_BYTES;
    this.region = options.region ?? DEFAULT_REGION;
    this.random = options.random ?? Math.random;
    this.log = options.log ?? silentLog;
    this.deadLetterStore = new DeadLetterStore(options.home);
    const names = new Set<string>();
    for (const config of configs) {
      validateConfig(config);
      if (names.has(config.name)) {
        throw new LocalLambdaConfigError(`function ${config.name} is configured twice`);
      }
      names.add(config.name);
    }
    for (const config of configs) {
      if (config.onFailureFunction !== undefined && !names.has(config.onFailureFunction)) {
        throw new LocalLambdaConfigError(
          `on-failure destination ${config.onFailureFunction} of ${config.name} is not configured`,
        );
      }
    }
  }

  async start(): Promise<{ endpoint: string }> {
    const logDir = join(this.options.home, 'logs');
    await mkdir(logDir, { recursive: true });
    for (const config of this.configs) {
      const log = createWriteStream(join(logDir, `${config.name}.log`), { flags: 'a' });
      // Every worker of the function pipes its stdout and stderr into this one file.
      log.setMaxListeners(0);
      log.on('error', (error) => {
        this.log.error('function log write failed', {
          functionName: config.name,
          error: String(error),
        });
      });
      const forcedRate = this.options.faults?.forcedTimeoutRate?.[config.name] ?? 0;
      const timeoutMs = config.timeoutSeconds * 1000;
      const runtime = new FunctionRuntime(config, {
        region: this.region,
        log,
        forcedKillAfterMs: () =>
          forcedRate > 0 && this.random() < forcedRate ? this.random() * timeoutMs : undefined,
      });
      this.functions.set(config.name, {
        config,
        runtime,
        log,
        ready: [],
        delayed: new Map(),
        running: 0,
        stats: emptyStats(config.memoryMb),
      });
    }
    const server = createInvokeServer(this);
    this.server = server;
    const host = this.options.host ?? '127.0.0.1';
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.options.port ?? 0, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const { port } = server.address() as AddressInfo;
    return { endpoint: `http://${host}:${port}` };
  }

  async stop(): Promise<void> {
    this.stopped = true;
    const server = this.server;
    this.server = undefined;
    if (server) {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
    for (const state of this.functions.values()) {
      for (const timer of state.delayed.values()) clearTimeout(timer);
      state.delayed.clear();
      state.ready.length = 0;
    }
    await Promise.all([...this.functions.values()].map((state) => state.runtime.stop()));
    await Promise.all(
      [...this.functions.values()].map(
        (state) => new Promise<void>((resolve) => state.log.end(() => resolve())),
      ),
    );
    this.notifyIfDrained();
  }

  /** Resolves once nothing is queued, waiting to retry, running or being dead-lettered. */
  drained(): Promise<void> {
    if (this.isDrained()) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  /** Enqueues an async event in-process, as S3 notifications and the schedule do. */
  async invokeAsync(name: string, payload: unknown): Promise<void> {
    const text = JSON.stringify(payload) ?? 'null';
    this.enqueue(this.resolve(name), text);
  }

  stats(): LambdaStats {
    const stats: LambdaStats = {};
    for (const [name, state] of this.functions) {
      stats[name] = {
        ...state.stats,
        billedMsList: [...state.stats.billedMsList],
        queued: state.ready.length,
        retrying: state.delayed.size,
        running: state.running,
      };
    }
    return stats;
  }

  deadLetters(): Promise<DeadLetter[]> {
    return this.deadLetterStore.list();
  }

  /** Queues a dead-lettered event again as a new async invocation, then deletes its file. */
  async redeliverDeadLetter(id: string): Promise<void> {
    const { letter, file } = await this.deadLetterStore.get(id);
    this.enqueue(this.resolve(letter.functionName), JSON.stringify(letter.event) ?? 'null');
    await this.deadLetterStore.remove(file);
  }

  /**
   * One Invoke call as the HTTP endpoint receives it. Throws the InvokeApiError
   * AWS would answer with (unknown function, payload too large, bad JSON, 429).
   */
  async invoke(request: InvokeRequest): Promise<InvokeResult> {
    const state = this.resolve(request.functionName, request.qualifier);
    const limit =
      request.invocationType === 'Event' ? this.asyncLimitBytes : SYNC_INVOKE_PAYLOAD_LIMIT_BYTES;
    const size = Buffer.byteLength(request.payload);
    if (size > limit) throw new RequestTooLargeError(size, limit, request.invocationType);
    // Lambda hands a function `{}` when the request has no payload.
    const payload = request.payload === '' ? '{}' : request.payload;
    switch (request.invocationType) {
      case 'DryRun':
        return { type: 'DryRun' };
      case 'Event':
        return { type: 'Event', requestId: this.enqueue(state, payload) };
      case 'RequestResponse':
        return { type: 'RequestResponse', ...(await this.invokeSync(state, payload)) };
    }
  }

  private resolve(name: string, qualifier?: string): FunctionState {
    const state = this.functions.get(name);
    if (!state || (qualifier !== undefined && qualifier !== '$LATEST')) {
      throw new FunctionNotFoundError(functionArn(this.region, name, qualifier));
    }
    return state;
  }

  /** Queues an async event; returns its request id. */
  private enqueue(state: FunctionState, payload: string): string {
    const size = Buffer.byteLength(payload);
    if (size > this.asyncLimitBytes) {
      throw new RequestTooLargeError(size, this.asyncLimitBytes, 'Event');
    }
    assertJson(payload);
    const requestId = randomUUID();
    const duplicateRate = this.options.faults?.duplicateDeliveryRate ?? 0;
    // Draw only when the fault is on, so an injected sequence of draws stays predictable.
    const deliveries = duplicateRate > 0 && this.random() < duplicateRate ? 2 : 1;
    for (let i = 0; i < deliveries; i += 1) {
      state.ready.push({
        id: randomUUID(),
        // AWS tells apart a retry (same id) from a repeat that followed no error (another id).
        requestId: i === 0 ? requestId : randomUUID(),
        payload,
        attempts: 0,
        firstReceivedAt: Date.now(),
        skippedWaitMs: 0,
      });
    }
    state.stats.duplicates += deliveries - 1;
    this.pump(state);
    return requestId;
  }

  /** Runs a RequestResponse invocation now, or throws 429 when every reserved slot is busy. */
  private async invokeSync(state: FunctionState, payload: string): Promise<SyncInvokeResult> {
    assertJson(payload);
    if (state.running >= state.config.reservedConcurrency) {
      state.stats.throttles += 1;
      throw new TooManyRequestsError(state.config.name);
    }
    const requestId = randomUUID();
    const outcome = await this.run(state, requestId, payload);
    this.pump(state);
    this.notifyIfDrained();
    if (!outcome.ok) return { requestId, ok: false, error: outcome.error };
    if (Buffer.byteLength(outcome.body) > SYNC_RESPONSE_LIMIT_BYTES) {
      return {
        requestId,
        ok: false,
        error: {
          errorType: 'Function.ResponseSizeTooLarge',
          errorMessage: `Response payload size exceeded maximum allowed payload size (${SYNC_RESPONSE_LIMIT_BYTES} bytes).`,
          trace: [],
        },
      };
    }
    return { requestId, ok: true, body: outcome.body };
  }

  // ---- the async queue ----

  private async run(
    state: FunctionState,
    requestId: string,
    payload: string,
  ): Promise<InvocationOutcome> {
    state.running += 1;
    state.stats.invocations += 1;
    try {
      const outcome = await state.runtime.invoke(requestId, payload);
      state.stats.billedMs += outcome.billedMs;
      state.stats.billedMsList.push(outcome.billedMs);
      if (outcome.coldStart) state.stats.coldStarts += 1;
      if (!outcome.ok) {
        state.stats.errors += 1;
        if (outcome.failure === 'timeout') state.stats.timeouts += 1;
        if (outcome.forced) state.stats.forcedTimeouts += 1;
        if (outcome.failure === 'out-of-memory' || outcome.failure === 'crash') {
          this.log.warn('worker replaced', {
            functionName: state.config.name,
            requestId,
            errorType: outcome.error.errorType,
          });
        }
      }
      return outcome;
    } finally {
      state.running -= 1;
    }
  }

  private pump(state: FunctionState): void {
    while (!this.stopped && state.running < state.config.reservedConcurrency) {
      const event = state.ready.shift();
      if (!event) break;
      const ageMs = emulatedAgeMs({ ...event, now: Date.now() });
      if (ageMs > state.config.maxEventAgeSeconds * 1000) {
        this.deadLetter(state, event, 'event-too-old');
        continue;
      }
      void this.attempt(state, event);
    }
  }

  private async attempt(state: FunctionState, event: AsyncEvent): Promise<void> {
    event.attempts += 1;
    const outcome = await this.run(state, event.requestId, event.payload);
    event.lastAttemptAt = Date.now();
    if (!outcome.ok && !this.stopped) {
      event.lastError = outcome.error;
      const next = afterFailure({
        attempts: event.attempts,
        maxRetryAttempts: state.config.maxRetryAttempts,
        maxEventAgeSeconds: state.config.maxEventAgeSeconds,
        ageMs: emulatedAgeMs({ ...event, now: Date.now() }),
        retryDelayScale: this.retryDelayScale,
      });
      if (next.action === 'retry') {
        state.stats.retries += 1;
        event.skippedWaitMs += next.delayMs - next.scaledDelayMs;
        const timer = setTimeout(() => {
          state.delayed.delete(event.id);
          state.ready.push(event);
          this.pump(state);
        }, next.scaledDelayMs);
        state.delayed.set(event.id, timer);
      } else {
        this.deadLetter(state, event, next.reason);
      }
    }
    this.pump(state);
    this.notifyIfDrained();
  }

  private deadLetter(state: FunctionState, event: AsyncEvent, reason: DeadLetterReason): void {
    const error = event.lastError ?? {
      errorType: 'EventAgeExceeded',
      errorMessage: `the event waited longer than the maximum event age (${state.config.maxEventAgeSeconds} s) before it could run`,
    };
    const destination = state.config.onFailureFunction;
    if (
      destination !== undefined &&
      this.sendFailureRecord(state, destination, event, reason, error)
    ) {
      return;
    }
    state.stats.deadLettered += 1;
    const letter: DeadLetter = {
      id: event.id,
      functionName: state.config.name,
      requestId: event.requestId,
      event: JSON.parse(event.payload) as unknown,
      error: { type: error.errorType, message: error.errorMessage },
      attempts: event.attempts,
      firstReceivedAt: new Date(event.firstReceivedAt).toISOString(),
      lastAttemptAt: new Date(event.lastAttemptAt ?? Date.now()).toISOString(),
      reason,
    };
    this.log.warn('async event dead-lettered', {
      functionName: letter.functionName,
      requestId: letter.requestId,
      deadLetterId: letter.id,
      reason,
      attempts: letter.attempts,
      errorType: letter.error.type,
    });
    this.pendingWrites += 1;
    this.deadLetterStore
      .put(letter)
      .catch((writeError: unknown) => {
        this.log.error('could not write dead letter', {
          deadLetterId: letter.id,
          error: String(writeError),
        });
      })
      .finally(() => {
        this.pendingWrites -= 1;
        this.notifyIfDrained();
      });
  }

  /**
   * Sends Lambda's failure record (the event it gave up on, and why) to the function's
   * on-failure destination as a new async event. False when it cannot be sent (too large
   * for an async payload: AWS counts a DestinationDeliveryFailure), so it is dead-lettered.
   */
  private sendFailureRecord(
    state: FunctionState,
    destinationName: string,
    event: AsyncEvent,
    reason: DeadLetterReason,
    error: Pick<FunctionErrorBody, 'errorType' | 'errorMessage'>,
  ): boolean {
    const destination = this.resolve(destinationName);
    const record = {
      version: '1.0',
      timestamp: new Date().toISOString(),
      requestContext: {
        requestId: event.requestId,
        functionArn: `${functionArn(this.region, state.config.name)}:$LATEST`,
        condition: reason === 'event-too-old' ? 'EventAgeExceeded' : 'RetriesExhausted',
        approximateInvokeCount: event.attempts,
      },
      requestPayload: JSON.parse(event.payload) as unknown,
      responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' },
      responsePayload: error,
    };
    try {
      this.enqueue(destination, JSON.stringify(record));
    } catch (sendError) {
      this.log.error('could not send the failure record to the on-failure destination', {
        functionName: state.config.name,
        destination: destination.config.name,
        error: String(sendError),
      });
      return false;
    }
    state.stats.sentToDestination += 1;
    this.log.warn('async event sent to the on-failure destination', {
      functionName: state.config.name,
      destination: destination.config.name,
      requestId: event.requestId,
      reason,
      attempts: event.attempts,
      errorType: error.errorType,
    });
    return true;
  }

  private isDrained(): boolean {
    if (this.pendingWrites > 0) return false;
    if (this.stopped) return true;
    for (const state of this.functions.values()) {
      if (state.running > 0 || state.ready.length > 0 || state.delayed.size > 0) return false;
    }
    return true;
  }

  private notifyIfDrained(): void {
    if (!this.isDrained()) return;
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    for (const resolve of waiters) resolve();
  }
}

function assertJson(payload: string): void {
  try {
    JSON.parse(payload);
  } catch (error) {
    throw new InvalidRequestContentError(
      `Could not parse request body into json: Could not parse payload into json: ${(error as Error).message}`,
    );
  }
}

function validateConfig(config: LocalFunctionConfig): void {
  const positive: (keyof LocalFunctionConfig)[] = [
    'memoryMb',
    'timeoutSeconds',
    'reservedConcurrency',
  ];
  for (const key of positive) {
    const value = config[key];
    if (typeof value !== 'number' || !(value > 0)) {
      throw new LocalLambdaConfigError(
        `${config.name}.${key}: must be a positive number, got ${JSON.stringify(value)}`,
      );
    }
  }
  if (!Number.isInteger(config.maxRetryAttempts) || config.maxRetryAttempts < 0) {
    throw new LocalLambdaConfigError(
      `${config.name}.maxRetryAttempts: must be an integer >= 0, got ${config.maxRetryAttempts}`,
    );
  }
}

function emptyStats(memoryMb: number): FunctionState['stats'] {
  return {
    invocations: 0,
    errors: 0,
    timeouts: 0,
    forcedTimeouts: 0,
    throttles: 0,
    retries: 0,
    deadLettered: 0,
    sentToDestination: 0,
    duplicates: 0,
    coldStarts: 0,
    billedMs: 0,
    billedMsList: [],
    memoryMb,
  };
}
