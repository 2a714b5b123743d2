import * as z from 'zod';
import { ContractValidationError } from './errors.js';
import { BatchIdSchema, RunIdSchema } from './ids.js';
import { SourceSchema } from './manifest.js';
import { check } from './validate.js';

/** What the collector remembers of a source between runs, for conditional fetches. */
export const ValidatorsSchema = z
  .object({
    etag: z.string().optional(),
    lastModified: z.string().optional(),
    /** sha256 (hex) of the last stored body, over all its pages. */
    sha256: z
      .string()
      .regex(/^[0-9a-f]{64}$/, 'must be a hex sha256')
      .optional(),
  })
  .strict();
export type Validators = z.infer<typeof ValidatorsSchema>;

export const CollectorTaskSchema = z
  .object({
    source: SourceSchema,
    previous: ValidatorsSchema.optional(),
    /** The planner's estimate of this task's duration. */
    estimateMs: z.number().int().nonnegative(),
  })
  .strict();
export type CollectorTask = z.infer<typeof CollectorTaskSchema>;

/** Maximum continuation hops before a batch's remaining tasks are recorded as failed. */
export const DEFAULT_MAX_HOPS = 5;

export const CollectorPayloadSchema = z
  .object({
    version: z.literal(1),
    runId: RunIdSchema,
    /** The run's scheduled time (ISO), which fixes the `dt=` partition of every key. */
    scheduledAt: z.iso.datetime({ offset: true }),
    batchId: BatchIdSchema,
    /** 0 for the manager's invocation; each continuation adds one. */
    hop: z.number().int().nonnegative(),
    tasks: z.array(CollectorTaskSchema).min(1),
  })
  .strict();
export type CollectorPayload = z.infer<typeof CollectorPayloadSchema>;
export type CollectorPayloadInput = z.input<typeof CollectorPayloadSchema>;

/** Bytes the payload takes on the wire, to compare with the invoke payload limit. */
export function payloadSize(payload: unknown): number {
  return Buffer.byteLength(JSON.stringify(payload), 'utf8');
}

export function parseCollectorPayload(value: unknown): CollectorPayload {
  const result = check(CollectorPayloadSchema, value);
  if (!result.ok) throw new ContractValidationError('collector payload', result.issues);
  return result.value;
}
