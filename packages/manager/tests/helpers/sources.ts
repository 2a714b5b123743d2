import { type Source, type SourceInput, SourceSchema } from '@fanout/shared';
import type { PlanSettings } from '../../src/index.js';

export function source(id: string, extra: Partial<SourceInput> = {}): Source {
  return SourceSchema.parse({ id, url: `http://127.0.0.1:9/${id}`, format: 'json', ...extra });
}

export function sources(count: number, extra: Partial<SourceInput> = {}): Source[] {
  return Array.from({ length: count }, (_, i) => source(`s${String(i).padStart(6, '0')}`, extra));
}

export const SETTINGS: PlanSettings = {
  batchBudgetMs: 150_000,
  payloadLimitBytes: 1_048_576,
  payloadMarginBytes: 8_192,
  collectorConcurrency: 16,
  collectorMaxParallel: 20,
  minTasksPerBatch: 10,
  defaultEstimateMs: 2_000,
};

export const RUN = { runId: '20261125T131000Z', scheduledAt: '2026-11-25T13:10:00.000Z' };
