import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { parseManifestText, topology } from '@fanout/shared';
import { LocalCloud } from '../cloud.js';
import { fanoutHome } from '../config.js';
import { startDemoSources } from '../demo/index.js';
import { DeadLetterStore } from '../lambda/index.js';
import type { DeadLetterInbox, InvokeAsync } from '../replay.js';
import { RunRecordReader } from '../run-records.js';
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
  'collector-function': { type: 'string' },
  'parser-function': { type: 'string' },
  ...PORT_OPTIONS,
  ...COLLECTOR_TIMEOUT_OPTION,
} as const;

type TargetValues = {
  bucket?: string;
  endpoint?: string;
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

const GENERATED_ID = /^gen-(\d+)$/;

/** How many `/gen/<i>.json` documents the stored demo manifest refers to. */
async function generatedSourceCount(reader: RunRecordReader): Promise<number> {
  const text = await reader.getText(topology.manifestKey);
  if (text === undefined) return 0;
  let sources: { id: string }[];
  try {
    sources = parseManifestText(text).sources;
  } catch {
    return 0; // Nothing in it can be fetched anyway; replay reports the manifest.
  }
  let count = 0;
  for (const source of sources) {
    const index = GENERATED_ID.exec(source.id)?.[1];
    if (index !== undefined) count = Math.max(count, Number(index) + 1);
  }
  return count;
}

export async function openWorkTarget(values: TargetValues): Promise<WorkTarget> {
  const functions = {
    collector: values['collector-function'] ?? topology.functions.collector.name,
    parser: values['parser-function'] ?? topology.functions.parser.name,
  };
  if (values.bucket && !values.endpoint) {
    const target = await openBucket(values, fanoutHome());
    const lambda = new LambdaClient(values.region ? { region: values.region } : {});
    return {
      reader: new RunRecordReader(target.s3, target.bucket),
      bucket: target.bucket,
      functions,
      invoke: async (functionName, payload) => {
        await lambda.send(
          new InvokeCommand({
            FunctionName: functionName,
            InvocationType: 'Event',
            Payload: Buffer.from(JSON.stringify(payload)),
          }),
        );
      },
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
  const demo = await generatedSourceCount(new RunRecordReader(cloud.s3, cloud.bucket))
    .then((count) => startDemoSources(localDemo(timeoutSeconds, { port: demoPort, count })))
    .catch(async (error: unknown) => {
      await cloud.stop();
      throw error;
    });
  return {
    reader: new RunRecordReader(cloud.s3, cloud.bucket),
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
