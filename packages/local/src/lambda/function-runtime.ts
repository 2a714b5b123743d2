import { once } from 'node:events';
import type { Writable } from 'node:stream';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { FunctionErrorBody, LocalFunctionConfig } from './types.js';
import { WORKER_SOURCE } from './worker-source.js';

/** Lambda gives a function's init phase 10 s, separate from its timeout. */
export const INIT_TIMEOUT_MS = 10_000;

/** V8's young generation is kept small so most of the memory setting goes to the old generation. */
const YOUNG_GENERATION_MB = 16;

export const ACCOUNT_ID = '000000000000';

export function functionArn(region: string, name: string, qualifier?: string): string {
  const arn = `arn:aws:lambda:${region}:${ACCOUNT_ID}:function:${name}`;
  return qualifier === undefined ? arn : `${arn}:${qualifier}`;
}

/** Lambda's own wording, e.g. "Task timed out after 3.00 seconds". */
export function timeoutMessage(requestId: string, timeoutSeconds: number): string {
  return `RequestId: ${requestId} Error: Task timed out after ${timeoutSeconds.toFixed(2)} seconds`;
}

export type InvocationFailure = 'error' | 'timeout' | 'out-of-memory' | 'crash';

export type InvocationOutcome = (
  | { ok: true; body: string }
  | { ok: false; failure: InvocationFailure; error: FunctionErrorBody; forced: boolean }
) & { billedMs: number; coldStart: boolean };

type WorkerSignal =
  | { type: 'ready' }
  | { type: 'init-error'; error: FunctionErrorBody }
  | { type: 'result'; requestId: string; ok: true; body: string }
  | { type: 'result'; requestId: string; ok: false; error: FunctionErrorBody }
  | { type: 'crash'; failure: InvocationFailure; error: FunctionErrorBody }
  | { type: 'deadline' };

interface RuntimeDeps {
  region: string;
  log: Writable;
  /** Milliseconds after which the fault injector kills this invocation as timed out, if any. */
  forcedKillAfterMs: () => number | undefined;
}

/** One worker thread holding one imported copy of the bundle. */
class WarmWorker {
  private readonly worker: Worker;
  private readonly signals: WorkerSignal[] = [];
  private waiter: ((signal: WorkerSignal) => void) | undefined;
  private exited = false;
  private crashed = false;

  constructor(config: LocalFunctionConfig, env: Record<string, string>, log: Writable) {
    this.worker = new Worker(WORKER_SOURCE, {
      eval: true,
      env,
      workerData: {
        bundleUrl: pathToFileURL(config.bundlePath).href,
        handlerExport: config.handlerExport ?? 'handler',
      },
      // Only the JS heap is bounded: Buffers live outside it (see README).
      resourceLimits: {
        maxOldGenerationSizeMb: Math.max(16, config.memoryMb - YOUNG_GENERATION_MB),
        maxYoungGenerationSizeMb: YOUNG_GENERATION_MB,
      },
      stdout: true,
      stderr: true,
    });
    this.worker.stdout.pipe(log, { end: false });
    this.worker.stderr.pipe(log, { end: false });
    this.worker.on('message', (message: WorkerSignal) => this.push(message));
    this.worker.on('error', (error: Error & { code?: string }) => {
      this.crashed = true;
      this.push(describeCrash(error));
    });
    this.worker.on('exit', (code) => {
      this.exited = true;
      this.push({
        type: 'crash',
        failure: 'crash',
        error: {
          errorType: 'Runtime.ExitError',
          errorMessage: `Runtime exited with error: exit status ${code}`,
          trace: [],
        },
      });
    });
  }

  get alive(): boolean {
    return !this.exited && !this.crashed;
  }

  post(message: unknown): void {
    this.worker.postMessage(message);
  }

  /** The next thing the worker says, or `deadline` after `ms`. */
  next(ms: number): Promise<WorkerSignal> {
    const buffered = this.signals.shift();
    if (buffered) return Promise.resolve(buffered);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiter = undefined;
        resolve({ type: 'deadline' });
      }, ms);
      this.waiter = (signal) => {
        clearTimeout(timer);
        this.waiter = undefined;
        resolve(signal);
      };
    });
  }

  async terminate(): Promise<void> {
    if (this.exited) return;
    const exited = once(this.worker, 'exit');
    await this.worker.terminate();
    await exited.catch(() => undefined);
  }

  private push(signal: WorkerSignal): void {
    if (this.waiter) this.waiter(signal);
    else this.signals.push(signal);
  }
}

function describeCrash(error: Error & { code?: string }): WorkerSignal {
  if (error.code === 'ERR_WORKER_OUT_OF_MEMORY') {
    return {
      type: 'crash',
      failure: 'out-of-memory',
      error: {
        errorType: 'Runtime.OutOfMemory',
        errorMessage: `Runtime exited with error: out of memory (${error.message})`,
        trace: [],
      },
    };
  }
  // An error escaping the handler's promise chain (e.g. an unhandled rejection) ends the worker.
  return {
    type: 'crash',
    failure: 'crash',
    error: {
      errorType: error.name || 'Runtime.ExitError',
      errorMessage: error.message,
      trace: typeof error.stack === 'string' ? error.stack.split('\n') : [],
    },
  };
}

/**
 * The warm workers of one function. A worker runs one invocation at a time and
 * is reused until it times out, runs out of memory or crashes; then it is
 * terminated and the next invocation starts a new one (a cold start).
 * The caller bounds how many invocations run at once.
 */
export class FunctionRuntime {
  private readonly idle: WarmWorker[] = [];
  private readonly all = new Set<WarmWorker>();
  private readonly env: Record<string, string>;
  private readonly timeoutMs: number;

  constructor(
    readonly config: LocalFunctionConfig,
    private readonly deps: RuntimeDeps,
  ) {
    this.timeoutMs = config.timeoutSeconds * 1000;
    const logGroupName = `/aws/lambda/${config.name}`;
    this.env = {
      ...config.env,
      // Reserved variables Lambda sets and a function cannot override.
      AWS_LAMBDA_FUNCTION_NAME: config.name,
      AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
      AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(config.memoryMb),
      AWS_LAMBDA_LOG_GROUP_NAME: logGroupName,
      AWS_LAMBDA_LOG_STREAM_NAME: `local/${config.name}`,
      AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand',
      _HANDLER: `index.${config.handlerExport ?? 'handler'}`,
    };
  }

  get workerCount(): number {
    return this.all.size;
  }

  async invoke(requestId: string, payload: string): Promise<InvocationOutcome> {
    const started = Date.now();
    let worker = this.idle.pop();
    // A worker can die while idle (an error thrown after its handler returned).
    while (worker && !worker.alive) {
      this.all.delete(worker);
      worker = this.idle.pop();
    }
    const coldStart = worker === undefined;
    if (!worker) {
      worker = new WarmWorker(this.config, this.env, this.deps.log);
      this.all.add(worker);
      const init = await worker.next(INIT_TIMEOUT_MS);
      if (init.type !== 'ready') {
        await this.discard(worker);
        const error: FunctionErrorBody =
          init.type === 'init-error' || init.type === 'crash'
            ? init.error
            : {
                errorType: 'Runtime.InitTimeout',
                errorMessage: `init did not finish within ${INIT_TIMEOUT_MS} ms`,
                trace: [],
              };
        return { ok: false, failure: 'error', error, forced: false, ...billing(started, true) };
      }
    }

    const invokeStarted = Date.now();
    const deadlineMs = invokeStarted + this.timeoutMs;
    const forcedAfter = this.deps.forcedKillAfterMs();
    const forced = forcedAfter !== undefined && forcedAfter < this.timeoutMs;
    this.note(`START RequestId: ${requestId} Version: $LATEST\n`);
    worker.post({
      type: 'invoke',
      requestId,
      payload,
      deadlineMs,
      context: {
        functionName: this.config.name,
        functionVersion: '$LATEST',
        invokedFunctionArn: functionArn(this.deps.region, this.config.name),
        memoryLimitInMB: String(this.config.memoryMb),
        logGroupName: `/aws/lambda/${this.config.name}`,
        logStreamName: `local/${this.config.name}`,
      },
    });
    const signal = await worker.next(forced ? forcedAfter : this.timeoutMs);
    const outcome = await this.settle(worker, signal, requestId, forced, started, coldStart);
    const durationMs = Date.now() - invokeStarted;
    this.note(
      `END RequestId: ${requestId}\nREPORT RequestId: ${requestId}\tDuration: ${durationMs.toFixed(2)} ms\tBilled Duration: ${outcome.billedMs} ms\tMemory Size: ${this.config.memoryMb} MB${coldStart ? '\tCold start' : ''}\n`,
    );
    return outcome;
  }

  /** Terminates every worker, busy or idle. */
  async stop(): Promise<void> {
    const workers = [...this.all];
    this.all.clear();
    this.idle.length = 0;
    await Promise.all(workers.map((worker) => worker.terminate()));
  }

  private async settle(
    worker: WarmWorker,
    signal: WorkerSignal,
    requestId: string,
    forced: boolean,
    started: number,
    coldStart: boolean,
  ): Promise<InvocationOutcome> {
    const bill = billing(started, coldStart);
    if (signal.type === 'result') {
      this.release(worker);
      if (signal.ok) return { ok: true, body: signal.body, ...bill };
      return {
        ok: false,
        failure: 'error',
        error: signal.error,
        forced: false,
        ...bill,
      };
    }
    await this.discard(worker);
    if (signal.type === 'deadline') {
      const error: FunctionErrorBody = {
        errorType: 'Sandbox.Timedout',
        errorMessage: timeoutMessage(requestId, this.config.timeoutSeconds),
        trace: [],
      };
      this.note(`${new Date().toISOString()} ${requestId} ${error.errorMessage}\n`);
      return { ok: false, failure: 'timeout', error, forced, ...bill };
    }
    if (signal.type === 'crash') {
      return {
        ok: false,
        failure: signal.failure,
        error: signal.error,
        forced: false,
        ...bill,
      };
    }
    return {
      ok: false,
      failure: 'crash',
      error: {
        errorType: 'Runtime.Unknown',
        errorMessage: `unexpected ${signal.type} from the runtime`,
        trace: [],
      },
      forced: false,
      ...bill,
    };
  }

  /** Invocations cut short by stop() finish after the log is closed. */
  private note(line: string): void {
    if (!this.deps.log.writableEnded) this.deps.log.write(line);
  }

  private release(worker: WarmWorker): void {
    if (worker.alive && this.all.has(worker)) this.idle.push(worker);
  }

  private async discard(worker: WarmWorker): Promise<void> {
    this.all.delete(worker);
    await worker.terminate();
  }
}

/** Lambda bills per 1 ms, rounded up; init of a cold start is billed too. */
function billing(started: number, coldStart: boolean): { billedMs: number; coldStart: boolean } {
  return { billedMs: Math.max(1, Math.ceil(Date.now() - started)), coldStart };
}
