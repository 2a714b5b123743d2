import type { S3Client } from '@aws-sdk/client-s3';
import type { Credentials, RawRequest, RawResponse } from '@fanout/local-s3';

export type { Credentials, RawRequest, RawResponse };

/**
 * One conformance case: a behaviour AWS documents, checked by driving a target with
 * the real AWS SDK v3 (or raw signed HTTP where the SDK cannot send the request).
 * `run` throws (node:assert) when the target answers otherwise.
 */
export interface ConformanceCase {
  readonly id: string;
  readonly service: 'S3' | 'Lambda' | 'SSM' | 'SecretsManager';
  /** What AWS does, in a sentence, with where it is documented. */
  readonly documented: string;
  /**
   * Set when the local cloud knowingly differs (kept on purpose): the reason. The case
   * still runs everywhere; locally it is expected to fail, and the suite says so.
   */
  readonly localDivergence?: string;
  run(target: CaseContext): Promise<void>;
}

export interface CaseContext {
  /** Name of the target, e.g. `local` or `moto`. */
  readonly target: string;
  readonly region: string;
  readonly credentials: Credentials;
  readonly s3Endpoint?: string;
  /** An SDK client with the SDK's default settings (checksums included) and path style. */
  readonly s3?: S3Client;
  /** The bucket the cases write to (created by the suite, emptied only by its own cases). */
  readonly bucket: string;
  /** A bucket whose notification configuration sends ObjectCreated events under raw/ to a function. */
  readonly notifiedBucket?: string;
  readonly lambdaEndpoint?: string;
  /** A function that exists on the target, and its ARN. */
  readonly functionName?: string;
  readonly functionArn?: string;
  readonly ssmEndpoint?: string;
  readonly secretsEndpoint?: string;
  /** Parameters and secrets the suite seeded (see SEEDED). */
  readonly seeded?: Seeded;
  /** A raw HTTP request to the S3 endpoint. */
  raw(request: RawRequest): Promise<RawResponse>;
}

/** What the suite stores in SSM and Secrets Manager before the cases run. */
export interface Seeded {
  /** Name -> versions (1 first); the current value is the last. */
  readonly parameters: Readonly<Record<string, readonly string[]>>;
  readonly secrets: Readonly<Record<string, string>>;
  /** The ARN the target gives each parameter and secret, by name. */
  readonly parameterArn: (name: string) => string;
  readonly secretArn: (name: string) => Promise<string>;
}

export const SEEDED_PARAMETERS = {
  '/conformance/token': ['first', 'second'],
  '/conformance/plain': ['plain-value'],
} as const;

export const SEEDED_SECRETS = { 'conformance/partner': '{"user":"alice"}' } as const;

/** The `<Code>` of an S3 XML error body. */
export function errorCode(body: Buffer): string | undefined {
  return /<Code>([^<]*)<\/Code>/.exec(body.toString('utf8'))?.[1];
}
