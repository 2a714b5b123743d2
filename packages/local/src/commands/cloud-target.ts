import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { topology } from '@fanout/shared';
import { LocalCloud } from '../cloud.js';
import { fanoutHome, LOCAL_CREDENTIALS, LOCAL_REGION } from '../config.js';
import { generatedCountIn, startDemoSources } from '../demo/index.js';
import { FunctionUnreachableError, UsageError } from '../errors.js';
import { DeadLetterStore } from '../lambda/index.js';
import type { DeadLetterInbox, InvokeAsync, ReplayWriter } from '../replay.js';
import { bucketWriter, RunRecordReader } from '../run-records.js';
import { BUCKET_OPTIONS, openBucket } from './bucket.js';
import {
  COLLECTOR_TIMEOUT_OPTION,
  collectorTimeoutSeconds,
  localDemo,
  localFunctions,
  localPorts,
  PORT_OPTIONS,
} from './local-settings.js';

export const TARGET_OPTIONS = {
  ...BUCKET_OPTIONS,
  'lambda-endpoint': { type: 'string' },
  'collector-function': { type: 'string' },
  'parser-function': { type: 'string' },
  ...PORT_OPTIONS,
  ...COLLECTOR_TIMEOUT_OPTION,
} as const;

type TargetValues = {
  bucket?: string;
  endpoint?: string;
  'lambda-endpoint'?: string;
  region?: string;
  'collector-function'?: string;
  'parser-function'?: string;
  's3-port'?: string;
  'lambda-port'?: string;
  'demo-port'?: string;
  'secrets-port'?: string;
  'collector-timeout'?: string;
};

/** Where work is sent: the local cloud (started for the command) or functions in AWS. */
export interface WorkTarget {
  readonly reader: RunRecordReader;
  /** Writes replay's records (claims, its off-schedule log entry) to the same bucket. */
  readonly writer: ReplayWriter;
  readonly bucket: string;
  readonly invoke: InvokeAsync;
  readonly functions: { collector: string; parser: string };
  /** The local cloud, when the command runs against it. */
  readonly cloud?: LocalCloud;
  /** The local cloud's dead letters; AWS's are in the SQS queue (stack output dlqUrl). */
  readonly deadLetters?: DeadLetterInbox;
  /** Waits until the sent work is done (local only; AWS work runs on its own). */
  settle(): Promise<void>;
  close(): Promise<void>;
}

function asyncInvoker(lambda: LambdaClient, where: string): InvokeAsync {
  return async (functionName, payload) => {
    try {
      await lambda.send(
        new InvokeCommand({
          FunctionName: functionName,
          InvocationType: 'Event',
          Payload: Buffer.from(JSON.stringify(payload)),
        }),
      );
    } catch (error) {
      const { $metadata, message } = error as {
        $metadata?: { httpStatusCode?: number };
        message?: string;
      };
      // An answer (a 4xx or 5xx) is the function's or the service's: reported as it is.
      if ($metadata?.httpStatusCode !== undefined) throw error;
      throw new FunctionUnreachableError(
        `cannot reach ${where} to invoke ${functionName}: ${message ?? String(error)}`,
        where.startsWith('the Lambda endpoint')
          ? 'is `fanout start` running? It prints its Lambda endpoint'
          : 'check the network and the AWS region (--region)',
        { cause: error },
      );
    }
  };
}

/**
 * A running local cloud (`fanout start`) or any S3 + Lambda pair with endpoints: the
 * records are read at `--endpoint`, the work is sent to `--lambda-endpoint` and runs there
 * on its own (as in AWS), so there is no settling and no dead-letter folder to read.
 */
async function openEndpointTarget(
  values: TargetValues & { endpoint: string },
  functions: WorkTarget['functions'],
): Promise<WorkTarget> {
  const lambdaEndpoint = values['lambda-endpoint'];
  if (lambdaEndpoint === undefined) {
    throw new UsageError(
      `--endpoint ${values.endpoint} names where the records are; the work goes to functions: add --lambda-endpoint`,
      '`fanout start` prints both endpoints (S3 and Lambda), e.g. --endpoint http://127.0.0.1:4600 --lambda-endpoint http://127.0.0.1:4601',
    );
  }
  const target = await openBucket(values, fanoutHome());
  const lambda = new LambdaClient({
    endpoint: lambdaEndpoint,
    region: values.region ?? LOCAL_REGION,
    credentials: LOCAL_CREDENTIALS,
    maxAttempts: 1,
  });
  return {
    reader: new RunRecordReader(target.s3, target.bucket),
    writer: bucketWriter(target.s3, target.bucket),
    bucket: target.bucket,
    functions,
    invoke: asyncInvoker(lambda, `the Lambda endpoint ${lambdaEndpoint}`),
    settle: async () => {},
    close: async () => {
      lambda.destroy();
      await target.close();
    },
  };
}

export async function openWorkTarget(values: TargetValues): Promise<WorkTarget> {
  const functions = {
    collector: values['collector-function'] ?? topology.functions.collector.name,
    parser: values['parser-function'] ?? topology.functions.parser.name,
  };
  if (values.endpoint)
    return openEndpointTarget({ ...values, endpoint: values.endpoint }, functions);
  if (values['lambda-endpoint']) {
    throw new UsageError(
      '--lambda-endpoint goes with --endpoint (where the records are)',
      '`fanout start` prints both endpoints',
    );
  }
  if (values.bucket) {
    const target = await openBucket(values, fanoutHome());
    const lambda = new LambdaClient(values.region ? { region: values.region } : {});
    return {
      reader: new RunRecordReader(target.s3, target.bucket),
      writer: bucketWriter(target.s3, target.bucket),
      bucket: target.bucket,
      functions,
      invoke: asyncInvoker(lambda, 'AWS Lambda'),
      settle: async () => {},
      close: async () => {
        lambda.destroy();
        await target.close();
      },
    };
  }
  const timeoutSeconds = collectorTimeoutSeconds(values['collector-timeout']);
  const ports = localPorts(values);
  const demoPort = ports.demo;
  const home = fanoutHome();
  // The settings `fanout run` used: re-sent work runs as it first ran.
  const cloud = await LocalCloud.start({
    home,
    s3Port: ports.s3,
    lambdaPort: ports.lambda,
    ...(ports.secrets !== undefined ? { secretsPort: ports.secrets } : {}),
    functions: localFunctions(timeoutSeconds),
  });
  // The demo sources come back on their usual port, serving as many generated
  // sources as the stored manifest names, so the manifest's URLs answer.
  const demo = await new RunRecordReader(cloud.s3, cloud.bucket)
    .getText(topology.manifestKey)
    .then((text) =>
      startDemoSources(
        localDemo(timeoutSeconds, { port: demoPort, count: generatedCountIn(text) }),
      ),
    )
    .catch(async (error: unknown) => {
      await cloud.stop();
      throw error;
    });
  return {
    reader: new RunRecordReader(cloud.s3, cloud.bucket),
    writer: bucketWriter(cloud.s3, cloud.bucket),
    bucket: cloud.bucket,
    functions,
    cloud,
    deadLetters: localDeadLetters(cloud, new DeadLetterStore(home)),
    invoke: (functionName, payload) => cloud.lambda.invokeAsync(functionName, payload),
    settle: () => cloud.settled(),
    close: async () => {
      await cloud.stop();
      await demo.stop();
    },
  };
}

/** The local cloud's dead-letter files as replay uses them. */
function localDeadLetters(cloud: LocalCloud, store: DeadLetterStore): DeadLetterInbox {
  const forget = async (id: string) => {
    const { file } = await store.get(id);
    await store.remove(file);
  };
  return {
    list: () => cloud.lambda.deadLetters(),
    async redeliver(letter, event) {
      if (event === letter.event) {
        await cloud.lambda.redeliverDeadLetter(letter.id);
        return;
      }
      await cloud.lambda.invokeAsync(letter.functionName, event);
      await forget(letter.id);
    },
    discard: (letter) => forget(letter.id),
  };
}
