import {
  BatchIdSchema,
  batchFailureKey,
  type Clock,
  invalidEventKey,
  type LambdaContext,
  type Log,
  type RecordedBatchFailure,
  RunIdSchema,
  withRedactedPayload,
} from '@fanout/shared';
import { putJson, type StoreTarget } from './store.js';

export interface InvalidPayloadDeps extends StoreTarget {
  readonly clock: Clock;
  readonly context: LambdaContext;
  readonly log: Log;
}

function field(value: unknown, name: string): unknown {
  return typeof value === 'object' && value !== null
    ? (value as Record<string, unknown>)[name]
    : undefined;
}

/** Source ids a malformed payload still names, so the run status can count them as failed. */
function sourceIdsOf(event: unknown): string[] {
  const tasks = field(event, 'tasks');
  if (!Array.isArray(tasks)) return [];
  return tasks
    .map((task) => field(field(task, 'source'), 'id'))
    .filter((id): id is string => typeof id === 'string');
}

/**
 * Records a payload that failed validation where a user can see it (its payload
 * redacted: a replay rebuilds the tasks from the manifest by the record's sourceIds):
 * under its run when the payload still names run, batch and hop, else under
 * runs/_invalid/. Retrying cannot fix it, so nothing is thrown for it.
 */
export async function recordInvalidPayload(
  event: unknown,
  reason: string,
  deps: InvalidPayloadDeps,
): Promise<{ key: string; failure: RecordedBatchFailure }> {
  const now = new Date(deps.clock.now()).toISOString();
  const runId = RunIdSchema.safeParse(field(event, 'runId'));
  const batchId = BatchIdSchema.safeParse(field(event, 'batchId'));
  const rawHop = field(event, 'hop');
  const hop =
    typeof rawHop === 'number' && Number.isInteger(rawHop) && rawHop >= 0 ? rawHop : undefined;
  const named = runId.success && batchId.success && hop !== undefined;
  const key = named
    ? batchFailureKey(runId.data, batchId.data, hop)
    : invalidEventKey(now, deps.context.awsRequestId);
  // Stored redacted: the payload may hold source URLs and headers (credentials).
  const failure = withRedactedPayload({
    kind: 'invalid-payload',
    ...(runId.success ? { runId: runId.data } : {}),
    ...(batchId.success ? { batchId: batchId.data } : {}),
    ...(hop !== undefined ? { hop } : {}),
    reason,
    sourceIds: sourceIdsOf(event),
    payload: event,
    recordedAt: now,
  });
  deps.log.error('invalid collector payload; recorded, not retried', { key, reason });
  await putJson(deps, key, failure);
  return { key, failure };
}
