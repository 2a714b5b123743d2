import { topology } from '@fanout/shared';

const MiB = 1024 * 1024;

/**
 * The /tmp a collector function is assumed to have: Lambda's default (and free)
 * ephemeral storage, 512 MB, which Lambda counts in MiB. A deployment that
 * configures more storage may raise this; one that configures less cannot.
 */
export const EPHEMERAL_STORAGE_BYTES = 512 * MiB;

/** Kept free in /tmp for the runtime, extensions and anything else that writes there. */
export const TMP_RESERVE_BYTES = 64 * MiB;

/**
 * Largest number of bytes one source may hold at once (its `maxBytes`, and
 * all its pages together) when `concurrency` sources are fetched at once:
 * every fetch at its limit, spooled to disk, must still fit in /tmp.
 */
export function maxSourceBytesFor(concurrency: number): number {
  return Math.floor((EPHEMERAL_STORAGE_BYTES - TMP_RESERVE_BYTES) / Math.max(1, concurrency));
}

/**
 * The per-source limit at the deployed concurrency (16 fetches): 28 MiB
 * (29,360,128 bytes), so 16 x 28 MiB = 448 MiB fits 512 MiB with 64 MiB spare.
 * A source whose `maxBytes` is above it is refused, not clamped.
 */
export const MAX_SOURCE_BYTES = maxSourceBytesFor(topology.collectorConcurrency);
