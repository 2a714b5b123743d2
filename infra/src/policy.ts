import type { FunctionId, FunctionSpec } from '@fanout/shared';
import type { ObjectGrants } from './grants.js';

/** The IAM policy grammar this program writes: every statement names its actions and resources. */
export interface PolicyStatement {
  readonly Sid: string;
  readonly Effect: 'Allow' | 'Deny';
  readonly Principal?: string | { readonly Service: string };
  readonly Action: readonly string[];
  readonly Resource?: readonly string[];
  readonly Condition?: Readonly<
    Record<string, Readonly<Record<string, string | readonly string[]>>>
  >;
}

export interface PolicyDocument {
  readonly Version: '2012-10-17';
  readonly Statement: readonly PolicyStatement[];
}

function document(statements: readonly (PolicyStatement | undefined)[]): PolicyDocument {
  return {
    Version: '2012-10-17',
    Statement: statements.filter((s): s is PolicyStatement => s !== undefined),
  };
}

/** Objects matching key patterns: `raw/*` -> `arn:aws:s3:::bucket/raw/*`. */
export function objectArns(bucketArn: string, keyPatterns: readonly string[]): string[] {
  return keyPatterns.map((pattern) => `${bucketArn}/${pattern}`);
}

/** Who may ask a service to assume a role on its behalf (confused-deputy protection). */
export interface AssumeRoleSource {
  readonly account: string;
  /** An ARN pattern of the resource that acts, e.g. a schedule group. */
  readonly arnLike?: string;
}

export function assumeRolePolicy(service: string, source?: AssumeRoleSource): PolicyDocument {
  return document([
    {
      Sid: 'AssumeRole',
      Effect: 'Allow',
      Principal: { Service: service },
      Action: ['sts:AssumeRole'],
      // Stops another account's (or another schedule group's) schedules from using this role.
      ...(source
        ? {
            Condition: {
              StringEquals: { 'aws:SourceAccount': source.account },
              ...(source.arnLike ? { ArnLike: { 'aws:SourceArn': source.arnLike } } : {}),
            },
          }
        : {}),
    },
  ]);
}

export interface FunctionPolicyArns {
  readonly bucketArn: string;
  readonly logGroupArn: string;
  readonly deadLetterQueueArn: string;
  readonly functionArns: { readonly [K in FunctionId]: string };
}

/**
 * What one function may do: read and write only its own keys (see grants.ts),
 * invoke only the functions its topology entry fans out to, log only to its own
 * log group, and hand failed events to the dead-letter queue.
 */
export function functionPolicy(
  spec: FunctionSpec,
  grants: ObjectGrants,
  arns: FunctionPolicyArns,
): PolicyDocument {
  const { reads, writes } = grants;
  const deletes = grants.deletes ?? [];
  return document([
    {
      Sid: 'WriteOwnLogs',
      Effect: 'Allow',
      Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
      Resource: [`${arns.logGroupArn}:*`],
    },
    reads.length > 0
      ? {
          Sid: 'ReadOwnKeys',
          Effect: 'Allow',
          Action: ['s3:GetObject'],
          Resource: objectArns(arns.bucketArn, reads),
        }
      : undefined,
    // Every reader expects keys that may not exist yet (a run's own run.json, the
    // previous run's, a result or pack not written yet) and treats 404 as "absent".
    // S3 answers a GetObject on a missing key with 404 only to a caller that may list
    // the bucket, else with 403, which reads as a failure. The grant has no s3:prefix
    // condition: GetObject sends no prefix, so a prefix-conditioned grant may not count
    // (aws-facts-2 section 9). It reveals key names, never contents.
    reads.length > 0
      ? {
          Sid: 'ListBucketSoMissingKeysRead404',
          Effect: 'Allow',
          Action: ['s3:ListBucket'],
          Resource: [arns.bucketArn],
        }
      : undefined,
    writes.length > 0
      ? {
          Sid: 'WriteOwnKeys',
          Effect: 'Allow',
          // Streamed uploads are multipart; an abandoned one must be abortable.
          Action: ['s3:PutObject', 's3:AbortMultipartUpload'],
          Resource: objectArns(arns.bucketArn, writes),
        }
      : undefined,
    deletes.length > 0
      ? {
          Sid: 'DeleteOwnTemporaryKeys',
          Effect: 'Allow',
          Action: ['s3:DeleteObject'],
          Resource: objectArns(arns.bucketArn, deletes),
        }
      : undefined,
    spec.invokes.length > 0
      ? {
          Sid: 'InvokeFanOutTargets',
          Effect: 'Allow',
          Action: ['lambda:InvokeFunction'],
          Resource: [...new Set(spec.invokes)].map((id) => arns.functionArns[id]),
        }
      : undefined,
    // Lambda sends events that ran out of retries to the on-failure destination as this role.
    spec.onFailure === 'dead-letter-queue'
      ? {
          Sid: 'SendFailedEvents',
          Effect: 'Allow',
          Action: ['sqs:SendMessage'],
          Resource: [arns.deadLetterQueueArn],
        }
      : {
          Sid: 'SendFailedEvents',
          Effect: 'Allow',
          Action: ['lambda:InvokeFunction'],
          Resource: [arns.functionArns[spec.onFailure]],
        },
  ]);
}

/** The scheduler may start the manager and park undeliverable runs in the DLQ, nothing else. */
export function schedulerPolicy(managerArn: string, deadLetterQueueArn: string): PolicyDocument {
  return document([
    {
      Sid: 'StartManager',
      Effect: 'Allow',
      Action: ['lambda:InvokeFunction'],
      Resource: [managerArn],
    },
    {
      Sid: 'SendUndeliveredRuns',
      Effect: 'Allow',
      Action: ['sqs:SendMessage'],
      Resource: [deadLetterQueueArn],
    },
  ]);
}

/** Denies every request that does not use TLS, whoever sends it. */
export function denyInsecureTransportPolicy(bucketArn: string): PolicyDocument {
  return document([
    {
      Sid: 'DenyInsecureTransport',
      Effect: 'Deny',
      Principal: '*',
      // A deny must cover every action to close the door; grants never use wildcards.
      Action: ['s3:*'],
      Resource: [bucketArn, `${bucketArn}/*`],
      Condition: { Bool: { 'aws:SecureTransport': 'false' } },
    },
  ]);
}
