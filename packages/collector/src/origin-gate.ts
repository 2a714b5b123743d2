import type { Clock, OriginAllowance, OriginAllowances } from '@fanout/shared';
import { DeadlineAbortError } from './errors.js';
import type { HttpResponse } from './http.js';

/** Waits `ms`; rejects when `signal` aborts. */
type Sleep = (ms: number, signal: AbortSignal) => Promise<void>;

/** A wait for room at an origin that the request's signal ended (its timeout or the hop's deadline). */
export class OriginWaitAbortedError extends DeadlineAbortError {
  override name = 'OriginWaitAbortedError';
}

interface OriginState {
  readonly allowance: OriginAllowance | undefined;
  /** Requests in flight. */
  inFlight: number;
  /** Tasks started whose source URL is on this origin (the scheduler's count). */
  tasks: number;
  /** Earliest start of the next request: the pace, a Retry-After, the hop before's pace. */
  nextAt: number;
  /** Until when the origin asked to be left alone (Retry-After). */
  pausedUntil: number;
  readonly waiting: (() => void)[];
}

/**
 * This invocation's share of each origin's limit, kept: at most `concurrency` requests in
 * flight, request starts at least 60 s / `perMinute` apart, and no start before a time an
 * origin asked for with Retry-After (any origin, limited or not: a 429 or 503 slows that
 * origin only). Every request the collector makes goes through it (`gatedTransport`):
 * redirects, next pages, retries, robots.txt. The shares of the invocations that may run at
 * once add up to the run's limit (the planner and the hop that fans out see to that).
 */
export class OriginGate {
  private readonly origins = new Map<string, OriginState>();

  constructor(
    private readonly allowances: OriginAllowances | undefined,
    private readonly clock: Clock,
    private readonly sleep: Sleep,
  ) {}

  private state(origin: string): OriginState {
    let state = this.origins.get(origin);
    if (state === undefined) {
      const allowance = this.allowances?.[origin];
      const notBefore = allowance?.notBefore === undefined ? 0 : Date.parse(allowance.notBefore);
      state = { allowance, inFlight: 0, tasks: 0, nextAt: notBefore, pausedUntil: 0, waiting: [] };
      this.origins.set(origin, state);
    }
    return state;
  }

  /** The share this invocation holds of `origin`, when the origin is limited. */
  allowanceOf(origin: string): OriginAllowance | undefined {
    return this.allowances?.[origin];
  }

  /**
   * Whether another task on `origin` may start now: not while its share is taken, nor while
   * it asked for a pause (its tasks wait rather than hold lanes the rest of the batch can use).
   */
  hasRoomForTask(origin: string): boolean {
    const state = this.state(origin);
    if (state.pausedUntil > 0 && state.pausedUntil > this.clock.now()) return false;
    const limit = state.allowance?.concurrency;
    return limit === undefined || state.tasks < limit;
  }

  taskStarted(origin: string): void {
    this.state(origin).tasks += 1;
  }

  taskEnded(origin: string): void {
    const state = this.state(origin);
    state.tasks = Math.max(0, state.tasks - 1);
  }

  /**
   * Waits for room for one request to `origin`, then for its turn in the pace; returns the
   * release, to call once the response is read or dropped.
   */
  async acquire(origin: string, signal: AbortSignal): Promise<() => void> {
    const state = this.state(origin);
    const limit = state.allowance?.concurrency;
    while (limit !== undefined && state.inFlight >= limit) {
      await this.waitForRoom(state, signal);
    }
    state.inFlight += 1;
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      state.inFlight -= 1;
      state.waiting.shift()?.();
    };
    const now = this.clock.now();
    const startAt = Math.max(now, state.nextAt);
    const perMinute = state.allowance?.perMinute;
    if (perMinute !== undefined) state.nextAt = startAt + 60_000 / perMinute;
    if (startAt > now) {
      try {
        await this.sleep(startAt - now, signal);
      } catch {
        release();
        throw new OriginWaitAbortedError(origin);
      }
    }
    return release;
  }

  /** The origin asked for a pause (Retry-After): no request to it starts before then. */
  pause(origin: string, ms: number): void {
    const state = this.state(origin);
    const until = this.clock.now() + ms;
    state.nextAt = Math.max(state.nextAt, until);
    state.pausedUntil = Math.max(state.pausedUntil, until);
  }

  /** When the next request to `origin` may start, for the hops this one hands its share to. */
  nextStart(origin: string): number {
    return this.origins.get(origin)?.nextAt ?? 0;
  }

  private waitForRoom(state: OriginState, signal: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      if (signal.aborted) {
        reject(new OriginWaitAbortedError('origin'));
        return;
      }
      const wake = () => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      };
      const onAbort = () => {
        const index = state.waiting.indexOf(wake);
        if (index >= 0) state.waiting.splice(index, 1);
        reject(new OriginWaitAbortedError('origin'));
      };
      state.waiting.push(wake);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }
}

/**
 * A response that holds its origin's room until its body is read to the end or dropped (or,
 * at the latest, until `signal` ends: the attempt's timeout or the hop's deadline).
 */
export function holdingRoom(
  response: HttpResponse,
  release: () => void,
  signal: AbortSignal,
): HttpResponse {
  signal.addEventListener('abort', release, { once: true });
  const body = response.body;
  return {
    status: response.status,
    headers: response.headers,
    body: (async function* () {
      try {
        yield* body;
      } finally {
        release();
      }
    })(),
    discard: () => {
      release();
      response.discard();
    },
  };
}
