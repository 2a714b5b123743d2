import {
  type AsyncFailureRecord,
  type BatchFailure,
  batchFailureKey,
  MAX_REDRIVES,
  parseCollectorPayload,
  withRedactedPayload,
} from '@fanout/shared';
import { invokeWithRetry } from './dispatch.js';
import { dispatchSettings, type ManagerDeps } from './run.js';
import { putJson } from './storage.js';

/** What the manager did with a collector hop Lambda gave up on. */
export interface RedriveSummary {
  /**
   * `hop-redriven`: sent to a collector again, with its redrive count. `hop-failed`: redriven
   * `MAX_REDRIVES` times already (or it could not be sent): recorded as failed, for replay.
   */
  readonly outcome: 'hop-redriven' | 'hop-failed';
  readonly runId: string;
  readonly batchId: string;
  readonly hop: number;
  /** The redrive this was (1..MAX_REDRIVES), or the last one when it failed. */
  readonly redrive: number;
  readonly tasks: number;
  /** The failure record, when it failed. */
  readonly recordKey?: string;
}

/** The error of the last attempt, as Lambda's failure record gives it. */
function lastError(failure: AsyncFailureRecord): string {
  const response = failure.responsePayload as
    | { errorType?: unknown; errorMessage?: unknown }
    | undefined;
  const type = typeof response?.errorType === 'string' ? response.errorType : undefined;
  const message = typeof response?.errorMessage === 'string' ? response.errorMessage : undefined;
  if (type === undefined && message === undefined) {
    return failure.responseContext?.functionError ?? 'no error reported';
  }
  return [type, message].filter((part) => part !== undefined).join(': ');
}

/**
 * A collector hop Lambda gave up on (its on-failure destination is the manager). The hop
 * is sent again as it was, marked as redrive n, so that a run finishes without a manual
 * step after a burst of timeouts or throttles. A redriven hop that finds its record
 * already stored only hands on what that record left, so a redrive never repeats
 * finished work. After `MAX_REDRIVES` the hop is recorded as failed (a BatchFailure with
 * a redacted payload, which `fanout replay` rebuilds from the manifest): bounded, never
 * retried forever. An invalid collector payload throws ContractValidationError, which
 * the caller records as an invalid event.
 */
export async function redriveFailedHop(
  failure: AsyncFailureRecord,
  deps: ManagerDeps,
): Promise<RedriveSummary> {
  const payload = parseCollectorPayload(failure.requestPayload);
  const { runId, batchId, hop } = payload;
  const done = payload.redrive ?? 0;
  const facts = {
    runId,
    batchId,
    hop,
    tasks: payload.tasks.length,
    condition: failure.requestContext.condition,
    attempts: failure.requestContext.approximateInvokeCount,
    error: lastError(failure),
  };
  const summary = { runId, batchId, hop, tasks: payload.tasks.length };
  let reason = `${failure.requestContext.condition} after ${failure.requestContext.approximateInvokeCount} attempts and ${done} redrives (at most ${MAX_REDRIVES}); last error: ${lastError(failure)}`;
  if (done < MAX_REDRIVES) {
    const redrive = done + 1;
    const settings = dispatchSettings(deps.config);
    const sent = await invokeWithRetry(
      settings.collectorFunction,
      'Event',
      { ...payload, redrive },
      settings.retry,
      deps,
      { runId, batchId, hop, redrive },
    );
    if (sent.ok) {
      deps.log.warn('collector hop failed; redriven', { ...facts, redrive });
      return { outcome: 'hop-redriven', redrive, ...summary };
    }
    reason = `could not redrive (${sent.reason}) after ${reason}`;
  }
  const record: BatchFailure = withRedactedPayload({
    kind: 'collector-failed',
    runId,
    batchId,
    hop,
    reason,
    sourceIds: payload.tasks.map((task) => task.source.id),
    payload,
    recordedAt: new Date(deps.clock.now()).toISOString(),
  });
  const recordKey = batchFailureKey(runId, batchId, hop);
  await putJson(deps.store, recordKey, record);
  deps.log.error('collector hop failed for good; recorded for replay', { ...facts, recordKey });
  return { outcome: 'hop-failed', redrive: done, recordKey, ...summary };
}
