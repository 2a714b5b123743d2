import { encodeS3EventKey, type NotificationRule } from '@fanout/shared';

/** One record of an S3 event notification, field for field as S3 sends it. */
export interface S3EventRecord {
  readonly eventVersion: '2.1';
  readonly eventSource: 'aws:s3';
  readonly awsRegion: string;
  readonly eventTime: string;
  readonly eventName: string;
  readonly userIdentity: { readonly principalId: string };
  readonly requestParameters: { readonly sourceIPAddress: string };
  readonly responseElements: {
    readonly 'x-amz-request-id': string;
    readonly 'x-amz-id-2': string;
  };
  readonly s3: {
    readonly s3SchemaVersion: '1.0';
    readonly configurationId: string;
    readonly bucket: {
      readonly name: string;
      readonly ownerIdentity: { readonly principalId: string };
      readonly arn: string;
    };
    readonly object: {
      /** URL-encoded, space as `+`. */
      readonly key: string;
      readonly size: number;
      readonly eTag?: string;
      readonly sequencer: string;
    };
  };
}

/** What S3 delivers to a Lambda target: one record per event. */
export interface S3Event {
  readonly Records: readonly S3EventRecord[];
}

/** The parts of an object-created event the bridge needs, with the key decoded. */
export interface ObjectCreated {
  readonly bucket: string;
  readonly key: string;
  /** Without the `s3:` prefix, e.g. `ObjectCreated:Put`. */
  readonly eventName: string;
  readonly size: number;
  readonly eTag?: string;
  readonly eventTime: string;
  readonly sourceIPAddress: string;
  readonly requestId: string;
  readonly hostId: string;
}

/**
 * True when an event pattern of a notification configuration (`s3:ObjectCreated:*`,
 * `s3:ObjectCreated:Put`) covers an event name as it appears in a record.
 */
export function eventPatternMatches(pattern: string, eventName: string): boolean {
  const name = `s3:${eventName}`;
  if (pattern.endsWith(':*')) return name.startsWith(pattern.slice(0, -1));
  return pattern === name;
}

/** S3 filters on the object key as stored (decoded), not on its encoded form. */
export function ruleMatches(rule: NotificationRule, eventName: string, key: string): boolean {
  return (
    rule.events.some((pattern) => eventPatternMatches(pattern, eventName)) &&
    key.startsWith(rule.prefix) &&
    key.endsWith(rule.suffix)
  );
}

/** Account-like ids that real records carry; fixed so records are reproducible. */
const LOCAL_REQUESTER_PRINCIPAL = 'AWS:AIDALOCALFANOUTS3USER';
const LOCAL_OWNER_PRINCIPAL = 'A1LOCALFANOUTOWNER';
const SEQUENCER_HEX_DIGITS = 18;

/**
 * Sequencers are hex strings that order the events of one key. Each one is
 * larger than the last, also for two writes in the same millisecond.
 */
export function createSequencer(clock: () => number = Date.now): () => string {
  let last = 0n;
  return () => {
    const fromClock = BigInt(clock()) * 1_000_000n;
    last = fromClock > last ? fromClock : last + 1n;
    return last.toString(16).toUpperCase().padStart(SEQUENCER_HEX_DIGITS, '0');
  };
}

export function buildS3EventRecord(
  created: ObjectCreated,
  options: { region: string; configurationId: string; sequencer: string },
): S3EventRecord {
  return {
    eventVersion: '2.1',
    eventSource: 'aws:s3',
    awsRegion: options.region,
    eventTime: created.eventTime,
    eventName: created.eventName,
    userIdentity: { principalId: LOCAL_REQUESTER_PRINCIPAL },
    requestParameters: { sourceIPAddress: created.sourceIPAddress },
    responseElements: { 'x-amz-request-id': created.requestId, 'x-amz-id-2': created.hostId },
    s3: {
      s3SchemaVersion: '1.0',
      configurationId: options.configurationId,
      bucket: {
        name: created.bucket,
        ownerIdentity: { principalId: LOCAL_OWNER_PRINCIPAL },
        arn: `arn:aws:s3:::${created.bucket}`,
      },
      object: {
        key: encodeS3EventKey(created.key),
        size: created.size,
        ...(created.eTag !== undefined ? { eTag: created.eTag } : {}),
        sequencer: options.sequencer,
      },
    },
  };
}
