import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';
import { denyInsecureTransportPolicy } from './policy.js';

/** Noncurrent versions are only a safety net against bad overwrites; a month is enough to notice. */
const NONCURRENT_VERSION_EXPIRATION_DAYS = 30;
/** Parts of a failed multipart upload are billed until aborted. */
const ABORT_INCOMPLETE_UPLOAD_DAYS = 1;

export interface PrefixExpiration {
  /** A top-level prefix ending in `/`, e.g. `runs/`. */
  readonly prefix: string;
  /** 0 keeps the objects forever. */
  readonly days: number;
}

export interface PipelineBucketArgs {
  /** Prefix whose objects expire or move to STANDARD_IA (the raw responses). */
  readonly rawPrefix: string;
  /** 0 keeps raw objects forever. */
  readonly rawExpirationDays: number;
  /** 0 never moves raw objects to STANDARD_IA. */
  readonly rawTransitionDays: number;
  /** Other prefixes whose objects expire: run records, quarantine. 0 days keeps them. */
  readonly expirations: readonly PrefixExpiration[];
  readonly versioning: boolean;
  readonly forceDestroy: boolean;
  /** Local file uploaded as the source manifest. */
  readonly manifestFile: string;
  readonly manifestKey: string;
}

/**
 * The pipeline's one bucket, private and encrypted, with TLS required and raw
 * responses, run records and quarantined objects aged out. The notification is not here: it belongs to the
 * pipeline, which owns the function it targets.
 */
export class PipelineBucket extends pulumi.ComponentResource {
  readonly bucket: aws.s3.Bucket;
  readonly name: pulumi.Output<string>;
  readonly arn: pulumi.Output<string>;

  constructor(name: string, args: PipelineBucketArgs, opts?: pulumi.ComponentResourceOptions) {
    super('fanout:storage:PipelineBucket', name, {}, opts);
    const parent = { parent: this };

    this.bucket = new aws.s3.Bucket(`${name}-bucket`, { forceDestroy: args.forceDestroy }, parent);
    const bucketId = this.bucket.id;
    this.name = this.bucket.bucket;
    this.arn = this.bucket.arn;

    const publicAccess = new aws.s3.BucketPublicAccessBlock(
      `${name}-public-access`,
      {
        bucket: bucketId,
        blockPublicAcls: true,
        blockPublicPolicy: true,
        ignorePublicAcls: true,
        restrictPublicBuckets: true,
      },
      parent,
    );

    new aws.s3.BucketOwnershipControls(
      `${name}-ownership`,
      { bucket: bucketId, rule: { objectOwnership: 'BucketOwnerEnforced' } },
      parent,
    );

    // SSE-S3 needs no key policy, so the function roles need no KMS permissions.
    new aws.s3.BucketServerSideEncryptionConfiguration(
      `${name}-encryption`,
      {
        bucket: bucketId,
        rules: [{ applyServerSideEncryptionByDefault: { sseAlgorithm: 'AES256' } }],
      },
      parent,
    );

    new aws.s3.BucketPolicy(
      `${name}-policy`,
      {
        bucket: bucketId,
        policy: this.arn.apply((arn) => JSON.stringify(denyInsecureTransportPolicy(arn))),
      },
      // S3 rejects policy changes while a public access block update is in flight.
      { parent: this, dependsOn: [publicAccess] },
    );

    const versioning = args.versioning
      ? new aws.s3.BucketVersioning(
          `${name}-versioning`,
          { bucket: bucketId, versioningConfiguration: { status: 'Enabled' } },
          parent,
        )
      : undefined;

    new aws.s3.BucketLifecycleConfiguration(
      `${name}-lifecycle`,
      { bucket: bucketId, rules: lifecycleRules(args) },
      { parent: this, dependsOn: versioning ? [versioning] : [] },
    );

    new aws.s3.BucketObjectv2(
      `${name}-manifest`,
      {
        bucket: bucketId,
        key: args.manifestKey,
        source: new pulumi.asset.FileAsset(args.manifestFile),
        contentType: 'application/json',
      },
      parent,
    );

    this.registerOutputs({ name: this.name, arn: this.arn });
  }
}

type LifecycleRule = aws.types.input.s3.BucketLifecycleConfigurationRule;

export function lifecycleRules(args: PipelineBucketArgs): LifecycleRule[] {
  const rules: LifecycleRule[] = [
    {
      id: 'abort-incomplete-uploads',
      status: 'Enabled',
      filter: {},
      abortIncompleteMultipartUpload: { daysAfterInitiation: ABORT_INCOMPLETE_UPLOAD_DAYS },
      ...(args.versioning
        ? { noncurrentVersionExpiration: { noncurrentDays: NONCURRENT_VERSION_EXPIRATION_DAYS } }
        : {}),
    },
  ];
  if (args.rawExpirationDays > 0 || args.rawTransitionDays > 0) {
    rules.push({
      id: 'age-raw-responses',
      status: 'Enabled',
      filter: { prefix: args.rawPrefix },
      ...(args.rawExpirationDays > 0 ? { expiration: { days: args.rawExpirationDays } } : {}),
      ...(args.rawTransitionDays > 0
        ? { transitions: [{ days: args.rawTransitionDays, storageClass: 'STANDARD_IA' }] }
        : {}),
    });
  }
  for (const { prefix, days } of args.expirations) {
    if (days <= 0) continue;
    rules.push({
      id: `expire-${prefix.replace(/\/$/, '')}`,
      status: 'Enabled',
      filter: { prefix },
      expiration: { days },
    });
  }
  return rules;
}
