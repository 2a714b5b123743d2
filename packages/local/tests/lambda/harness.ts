import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LambdaClient } from '@aws-sdk/client-lambda';
import {
  type LocalFunctionConfig,
  LocalLambda,
  type LocalLambdaOptions,
} from '../../src/lambda/index.js';

export type Fixture =
  | 'echo'
  | 'throws'
  | 'sleeps'
  | 'probe'
  | 'oom'
  | 'no-handler'
  | 'flaky'
  | 'runtime';

export function fixturePath(fixture: Fixture): string {
  return fileURLToPath(new URL(`../fixtures/lambda/${fixture}.mjs`, import.meta.url));
}

/** A function config with small, test-friendly defaults. */
export function fn(
  name: string,
  fixture: Fixture,
  overrides: Partial<LocalFunctionConfig> = {},
): LocalFunctionConfig {
  return {
    name,
    bundlePath: fixturePath(fixture),
    memoryMb: 128,
    timeoutSeconds: 5,
    reservedConcurrency: 2,
    maxRetryAttempts: 2,
    maxEventAgeSeconds: 3_600,
    env: { AWS_REGION: 'us-east-1' },
    ...overrides,
  };
}

export interface Harness {
  lambda: LocalLambda;
  endpoint: string;
  home: string;
  /** A real SDK client pointed at the endpoint; no SDK retries, so a 429 stays a 429. */
  client: LambdaClient;
  stop(): Promise<void>;
}

export async function startHarness(
  functions: LocalFunctionConfig[],
  options: Partial<LocalLambdaOptions> = {},
): Promise<Harness> {
  const home = await mkdtemp(join(tmpdir(), 'fanout-lambda-'));
  const lambda = new LocalLambda(functions, { home, retryDelayScale: 0.0005, ...options });
  const { endpoint } = await lambda.start();
  const client = new LambdaClient({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    maxAttempts: 1,
  });
  return {
    lambda,
    endpoint,
    home,
    client,
    async stop() {
      client.destroy();
      await lambda.stop();
      await rm(home, { recursive: true, force: true });
    },
  };
}

export function json(payload: Uint8Array | undefined): unknown {
  return JSON.parse(new TextDecoder().decode(payload));
}
