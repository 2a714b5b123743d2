import {
  ContractValidationError,
  invalidEventKey,
  type LambdaContext,
  parseManagerEvent,
} from '@fanout/shared';
import { UnknownRunError } from './errors.js';
import { type RedriveSummary, redriveFailedHop } from './redrive.js';
import { dispatchPart, type ManagerDeps, type RunSummary, startRun } from './run.js';
import { putJson } from './storage.js';

/** What the manager leaves under `runs/_invalid/` for an event it cannot act on. */
export interface InvalidEventRecord {
  readonly function: 'manager';
  readonly reason: string;
  readonly issues: readonly string[];
  readonly requestId: string;
  readonly event: unknown;
  readonly recordedAt: string;
}

export type HandleResult =
  | RunSummary
  | RedriveSummary
  | { readonly outcome: 'invalid'; readonly reason: string; readonly recordKey: string };

/**
 * Validates a manager event and runs it. An event that cannot be acted on is
 * logged and recorded, not thrown: a retry would fail the same way. Transient
 * faults (S3 unavailable) do throw, so Lambda's async retry runs it again.
 */
export async function handleManagerEvent(
  event: unknown,
  context: Pick<LambdaContext, 'awsRequestId'>,
  deps: ManagerDeps,
): Promise<HandleResult> {
  try {
    const trigger = parseManagerEvent(event);
    if (trigger.kind === 'dispatch') return await dispatchPart(trigger, deps);
    if (trigger.kind === 'failed-invocation') return await redriveFailedHop(trigger.failure, deps);
    return await startRun(trigger, { requestId: context.awsRequestId }, deps);
  } catch (error) {
    if (!(error instanceof ContractValidationError || error instanceof UnknownRunError)) {
      throw error;
    }
    const recordedAt = new Date(deps.clock.now()).toISOString();
    const recordKey = invalidEventKey(recordedAt, context.awsRequestId);
    const record: InvalidEventRecord = {
      function: 'manager',
      reason: error.message,
      issues: error instanceof ContractValidationError ? error.issues : [error.message],
      requestId: context.awsRequestId,
      event,
      recordedAt,
    };
    deps.log.error('invalid manager event; recorded, not retried', {
      reason: error.message,
      key: recordKey,
    });
    await putJson(deps.store, recordKey, record);
    return { outcome: 'invalid', reason: error.message, recordKey };
  }
}
