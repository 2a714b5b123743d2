import * as pulumi from '@pulumi/pulumi';

export const ACCOUNT_ID = '123456789012';
export const REGION = 'eu-west-1';

export interface RecordedResource {
  readonly type: string;
  readonly name: string;
  readonly inputs: Record<string, unknown>;
  /** Inputs plus the attributes the mock provider computed (bucket name, ARNs). */
  readonly state: Record<string, unknown>;
}

/** Provider-computed attributes the program reads; inputs always win over these. */
function computedState(
  type: string,
  name: string,
  inputs: Record<string, unknown>,
): Record<string, unknown> {
  const named = typeof inputs.name === 'string' ? inputs.name : `${name}-a1b2c3d`;
  switch (type) {
    case 'aws:s3/bucket:Bucket': {
      const bucket = typeof inputs.bucket === 'string' ? inputs.bucket : `${name}-a1b2c3d`;
      return { bucket, arn: `arn:aws:s3:::${bucket}` };
    }
    case 'aws:lambda/function:Function':
      return { arn: `arn:aws:lambda:${REGION}:${ACCOUNT_ID}:function:${named}` };
    case 'aws:cloudwatch/logGroup:LogGroup':
      return { arn: `arn:aws:logs:${REGION}:${ACCOUNT_ID}:log-group:${named}` };
    case 'aws:sqs/queue:Queue':
      return {
        name: named,
        arn: `arn:aws:sqs:${REGION}:${ACCOUNT_ID}:${named}`,
        url: `https://sqs.${REGION}.amazonaws.com/${ACCOUNT_ID}/${named}`,
      };
    case 'aws:iam/role:Role':
      return { name: named, arn: `arn:aws:iam::${ACCOUNT_ID}:role/${named}` };
    case 'aws:sns/topic:Topic':
      return { arn: `arn:aws:sns:${REGION}:${ACCOUNT_ID}:${named}` };
    case 'aws:scheduler/schedule:Schedule':
      return {
        name: named,
        arn: `arn:aws:scheduler:${REGION}:${ACCOUNT_ID}:schedule/default/${named}`,
      };
    default:
      return {};
  }
}

/** AWS uses the bucket name and the function name as the ids of those resources. */
function physicalId(type: string, name: string, state: Record<string, unknown>): string {
  if (type === 'aws:s3/bucket:Bucket' && typeof state.bucket === 'string') return state.bucket;
  if (type === 'aws:lambda/function:Function' && typeof state.name === 'string') return state.name;
  return `${name}-id`;
}

/**
 * Installs Pulumi mocks that record every resource the program registers, with
 * the given `fanout:*` config. Call before importing the program (dynamically).
 */
export async function installMocks(
  config: Readonly<Record<string, string>> = {},
  stack = 'test',
): Promise<RecordedResource[]> {
  const resources: RecordedResource[] = [];
  await pulumi.runtime.setMocks(
    {
      newResource(args) {
        const state = { ...computedState(args.type, args.name, args.inputs), ...args.inputs };
        resources.push({ type: args.type, name: args.name, inputs: args.inputs, state });
        return { id: physicalId(args.type, args.name, state), state };
      },
      call(args) {
        switch (args.token) {
          case 'aws:index/getCallerIdentity:getCallerIdentity':
            return {
              accountId: ACCOUNT_ID,
              arn: `arn:aws:iam::${ACCOUNT_ID}:user/test`,
              userId: 'x',
            };
          case 'aws:index/getRegion:getRegion':
            return { name: REGION, region: REGION, id: REGION };
          case 'aws:index/getPartition:getPartition':
            return { partition: 'aws', dnsSuffix: 'amazonaws.com', id: 'aws' };
          default:
            throw new Error(`unexpected invoke ${args.token}`);
        }
      },
    },
    'fanout',
    stack,
    false,
  );
  pulumi.runtime.setAllConfig(
    Object.fromEntries(Object.entries(config).map(([key, value]) => [`fanout:${key}`, value])),
  );
  return resources;
}

/** Waits until every resource the program started has been registered with the mocks. */
export async function registrationsSettled(): Promise<void> {
  await pulumi.runtime.disconnect();
}

export function outputValue<T>(output: pulumi.Output<T>): Promise<T> {
  return new Promise((resolve) => output.apply(resolve));
}

export function ofType(resources: readonly RecordedResource[], type: string): RecordedResource[] {
  return resources.filter((resource) => resource.type === type);
}

export function onlyOfType(resources: readonly RecordedResource[], type: string): RecordedResource {
  const found = ofType(resources, type);
  if (found.length !== 1) throw new Error(`expected one ${type}, found ${found.length}`);
  const [resource] = found;
  if (resource === undefined) throw new Error(`expected one ${type}`);
  return resource;
}
