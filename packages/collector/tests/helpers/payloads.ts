import type { CollectorPayload, CollectorTask, SourceInput } from '@fanout/shared';
import { parseCollectorPayload } from '@fanout/shared';

export const RUN_ID = '20261125T131000Z';
export const SCHEDULED_AT = '2026-11-25T13:10:00Z';

export type TaskInput = Omit<Partial<CollectorTask>, 'source'> & {
  source: Partial<SourceInput> & { id: string; url: string };
};

/** A valid payload (through the real schema, so defaults apply as in production). */
export function payload(
  tasks: TaskInput[],
  overrides: Partial<Omit<CollectorPayload, 'tasks'>> = {},
): CollectorPayload {
  return parseCollectorPayload({
    version: 1,
    runId: RUN_ID,
    scheduledAt: SCHEDULED_AT,
    batchId: 'b00001',
    hop: 0,
    ...overrides,
    tasks: tasks.map((t) => ({
      estimateMs: 1_000,
      ...t,
      source: { format: 'json', allowPrivateNetwork: true, ...t.source },
    })),
  });
}
