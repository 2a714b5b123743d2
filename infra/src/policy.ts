import type { FunctionId, FunctionSpec } from '@fanout/shared';

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

/** Objects under a prefix: `arn:aws:s3:::bucket/raw/*`. */
export function objectArns(bucketArn: string, prefixes: readonly string[]): string[] {
  return prefixes.map((prefix) => `${bucketArn}/${prefix}*`);
}

export function assumeRolePolicy(service: string, sourceAccount?: string): PolicyDocument {
  return document([
    {
      Sid: 'AssumeRole',
      Effect: 'Allow',
      Principal: { Service: service },
      Action: ['sts:AssumeRole'],
      // Stops another account's schedule from using this role (confused deputy).
      ...(sourceAccount
        ? { Condition: { StringEquals: { 'aws:SourceAccount': sourceAccount } } }
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
 * What one function may do, derived from its topology entry: read and write
 * only its prefixes, invoke only the functions it fans out to, log only to its
 * own log group, and hand failed events to the dead-letter queue.
 */
export function functionPolicy(spec: FunctionSpec, arns: FunctionPolicyArns): PolicyDocument {
  const reads = spec.reads;
  const writes = spec.writes;
  return document([
    {
      Sid: 'WriteOwnLogs',
      Effect: 'Allow',
      Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
      Resource: [`${arns.logGroupArn}:*`],
    },
    reads.length > 0
      ? {
          Sid: 'ReadPrefixes',
          Effect: 'Allow',
          Action: ['s3:GetObject'],
          Resource: objectArns(arns.bucketArn, reads),
        }
      : undefined,
    // Without ListBucket a missing key reads as 403 instead of 404 (NoSuchKey).
    reads.length > 0
      ? {
          Sid: 'ListReadPrefixes',
          Effect: 'Allow',
          Action: ['s3:ListBucket'],
          Resource: [arns.bucketArn],
          Condition: { StringLike: { 's3:prefix': reads.map((prefix) => `${prefix}*`) } },
        }
      : undefined,
    writes.length > 0
      ? {
          Sid: 'WritePrefixes',
          Effect: 'Allow',
          // Streamed uploads are multipart; an abandoned one must be abortable.
          Action: ['s3:PutObject', 's3:AbortMultipartUpload'],
          Resource: objectArns(arns.bucketArn, writes),
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
    {
      // Lambda sends events that ran out of retries to the on-failure destination as this role.
      Sid: 'SendFailedEvents',
      Effect: 'Allow',
      Action: ['sqs:SendMessage'],
      Resource: [arns.deadLetterQueueArn],
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
