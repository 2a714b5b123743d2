import type { LocalCloudOptions } from '../cloud.js';
import type { DemoSourcesOptions } from '../demo/index.js';
import { assertPortFree } from '../ports.js';
import { intOption } from './args.js';

/**
 * Local overrides of the deployed topology for a demo that finishes in seconds:
 * a short collector timeout makes the slow demo source exercise continuation.
 */
export const DEMO_COLLECTOR_TIMEOUT_SECONDS = 8;

/** The option every command that starts the local cloud takes. */
export const COLLECTOR_TIMEOUT_OPTION = { 'collector-timeout': { type: 'string' } } as const;

/** The local cloud's ports: S3, Lambda, the demo sources, and SSM + Secrets Manager (S3 + 3). */
export const DEFAULT_PORTS = { s3: 4600, lambda: 4601, demo: 4602, secrets: 4603 } as const;

/** The port options of every command that starts the local cloud. */
export const PORT_OPTIONS = {
  's3-port': { type: 'string' },
  'lambda-port': { type: 'string' },
  'demo-port': { type: 'string' },
  'secrets-port': { type: 'string' },
} as const;

export interface LocalPorts {
  readonly s3: number;
  readonly lambda: number;
  readonly demo: number;
  /** Absent: 3 above the S3 port (a free one when that is 0). */
  readonly secrets?: number;
}

/** The ports asked for (0: a free one), checked as whole numbers. */
export function localPorts(values: {
  's3-port'?: string | undefined;
  'lambda-port'?: string | undefined;
  'demo-port'?: string | undefined;
  'secrets-port'?: string | undefined;
}): LocalPorts {
  const secrets = values['secrets-port'];
  return {
    s3: intOption('s3-port', values['s3-port'], DEFAULT_PORTS.s3),
    lambda: intOption('lambda-port', values['lambda-port'], DEFAULT_PORTS.lambda),
    demo: intOption('demo-port', values['demo-port'], DEFAULT_PORTS.demo),
    ...(secrets !== undefined ? { secrets: intOption('secrets-port', secrets, 0) } : {}),
  };
}

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

/**
 * Checks every fixed port before anything starts or prints, so a taken one is a single
 * line naming its flag (PortInUseError) rather than a failure halfway through startup.
 */
export async function assertPortsFree(ports: LocalPorts): Promise<void> {
  const secrets = ports.secrets ?? (ports.s3 ? ports.s3 + 3 : 0);
  const wanted: [number, string][] = [
    [ports.s3, '--s3-port'],
    [ports.lambda, '--lambda-port'],
    [ports.demo, '--demo-port'],
    [secrets, '--secrets-port'],
  ];
  for (const [port, flag] of wanted) if (port !== 0) await assertPortFree(port, flag);
}
