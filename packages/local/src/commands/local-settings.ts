import type { LocalCloudOptions } from '../cloud.js';
import type { DemoSourcesOptions } from '../demo/index.js';
import { intOption } from './args.js';

/**
 * Local overrides of the deployed topology for a demo that finishes in seconds:
 * a short collector timeout makes the slow demo source exercise continuation.
 */
export const DEMO_COLLECTOR_TIMEOUT_SECONDS = 8;

/** The option every command that starts the local cloud takes. */
export const COLLECTOR_TIMEOUT_OPTION = { 'collector-timeout': { type: 'string' } } as const;

export function collectorTimeoutSeconds(value: string | undefined): number {
  return intOption('collector-timeout', value, DEMO_COLLECTOR_TIMEOUT_SECONDS);
}

/**
 * The function settings of the local cloud, one place for `run`, `start`, `replay`
 * and `reparse`: work re-sent by `replay` runs with the timeout (and so the time
 * margins and continuation points) it first ran with.
 */
export function localFunctions(
  timeoutSeconds: number,
): NonNullable<LocalCloudOptions['functions']> {
  return { collector: { timeoutSeconds } };
}

/** The demo sources as `run` serves them: the slow one outlasts a whole collector invocation. */
export function localDemo(
  timeoutSeconds: number,
  options: Omit<DemoSourcesOptions, 'slowDelayMs'> = {},
): DemoSourcesOptions {
  return { latencyMs: 50, ...options, slowDelayMs: timeoutSeconds * 1000 };
}
