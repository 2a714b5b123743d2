import { setTimeout as wait } from 'node:timers/promises';
import { ContractValidationError, parseCollectorPayload, redactUrlsIn } from '@fanout/shared';
import { type BatchSummary, type CollectorDeps, collectBatch } from './collect.js';
import type { SleepFn } from './fetch-source.js';
import { recordInvalidPayload } from './invalid.js';
import type { SecretResolver } from './secrets.js';

export type HandlerDeps = CollectorDeps & {
  /**
   * Resolves the secret references of sources; shared by every invocation of the
   * environment. Without it a source that references a secret fails, naming it.
   */
  readonly secrets?: SecretResolver;
};

export type HandlerOutcome =
  | { readonly kind: 'invalid'; readonly key: string; readonly reason: string }
  | { readonly kind: 'collected'; readonly summary: BatchSummary };

export const realSleep: SleepFn = (ms, signal) => wait(ms, undefined, { signal });

/**
 * What the Lambda handler does, minus building clients: validate the payload
 * (recording, not throwing, a malformed one) and collect the batch.
 */
export async function handleCollectorEvent(
  event: unknown,
  deps: HandlerDeps,
): Promise<HandlerOutcome> {
  let payload: ReturnType<typeof parseCollectorPayload>;
  try {
    payload = parseCollectorPayload(event);
  } catch (error) {
    if (!(error instanceof ContractValidationError)) throw error;
    // Issues quote the offending values, which may be URLs with credentials.
    const reason = redactUrlsIn(error.message);
    const { key } = await recordInvalidPayload(event, reason, deps);
    return { kind: 'invalid', key, reason };
  }
  return { kind: 'collected', summary: await collectBatch(payload, deps) };
}
