import { topology } from '@fanout/shared';
import { LocalCloud } from '../cloud.js';
import { fanoutHome, LOCAL_CREDENTIALS, LOCAL_REGION } from '../config.js';
import { generatedCountIn, startDemoSources } from '../demo/index.js';
import { RunRecordReader } from '../run-records.js';
import { parseScheduleExpression, startSchedule } from '../schedule/index.js';
import { parseCommandArgs } from './args.js';
import {
  assertPortsFree,
  COLLECTOR_TIMEOUT_OPTION,
  collectorTimeoutSeconds,
  type LocalPorts,
  localDemo,
  localFunctions,
  localPorts,
  PORT_OPTIONS,
} from './local-settings.js';
import type { Io } from './run.js';

export const START_OPTIONS = {
  schedule: { type: 'string' },
  ...PORT_OPTIONS,
  ...COLLECTOR_TIMEOUT_OPTION,
  'no-demo': { type: 'boolean' },
} as const;

/** Generated demo sources `start` serves when the bucket has no manifest yet. */
const DEFAULT_GENERATED = 10;

export interface StartOptions {
  readonly home: string;
  readonly ports: LocalPorts;
  readonly collectorTimeoutSeconds: number;
  /** The schedule expression to run (and tell the manager); the topology's by default. */
  readonly schedule?: string;
  readonly demo: boolean;
}

export interface StartedCloud {
  readonly cloud: LocalCloud;
  readonly demo?: Awaited<ReturnType<typeof startDemoSources>>;
  stop(): Promise<void>;
}

/**
 * The local cloud `fanout start` runs: the manager is told the schedule it runs under
 * (it finds each previous run at the previous fire time), and the demo serves exactly the
 * sources of the manifest in the bucket (`run` may have stored one with more generated
 * sources), or stores its own manifest when there is none.
 */
export async function startLocalStack(options: StartOptions): Promise<StartedCloud> {
  const { ports } = options;
  const cloud = await LocalCloud.start({
    home: options.home,
    s3Port: ports.s3,
    lambdaPort: ports.lambda,
    ...(ports.secrets !== undefined ? { secretsPort: ports.secrets } : {}),
    functions: localFunctions(options.collectorTimeoutSeconds),
    ...(options.schedule !== undefined ? { schedule: options.schedule } : {}),
  });
  let demo: StartedCloud['demo'];
  try {
    if (options.demo) {
      const stored = await new RunRecordReader(cloud.s3, cloud.bucket).getText(
        cloud.topology.manifestKey,
      );
      const count = stored === undefined ? DEFAULT_GENERATED : generatedCountIn(stored);
      demo = await startDemoSources(
        localDemo(options.collectorTimeoutSeconds, { port: ports.demo, count }),
      );
      if (stored === undefined) await cloud.putManifest(demo.manifest());
    }
  } catch (error) {
    await cloud.stop();
    throw error;
  }
  return {
    cloud,
    ...(demo ? { demo } : {}),
    stop: async () => {
      await cloud.stop();
      await demo?.stop();
    },
  };
}

/** `fanout start`: the local cloud and the schedule, until Ctrl-C. */
export async function startCommand(argv: string[], io: Io): Promise<number> {
  const { values } = parseCommandArgs('start', argv, START_OPTIONS);
  const home = fanoutHome();
  const ports = localPorts(values);
  // Checked before anything starts; the manager is told it, to find each previous run.
  const expression = values.schedule ?? topology.schedule.expression;
  parseScheduleExpression(expression);
  await assertPortsFree(ports);
  const { cloud, demo, stop } = await startLocalStack({
    home,
    ports,
    // The settings `run`, `replay` and `reparse` use, so work started here runs the same way.
    collectorTimeoutSeconds: collectorTimeoutSeconds(values['collector-timeout']),
    ...(values.schedule !== undefined ? { schedule: values.schedule } : {}),
    demo: !values['no-demo'],
  });
  const manager = cloud.functionName(cloud.topology.schedule.target);
  const schedule = startSchedule(expression, async (event) => {
    io.stderr.write(`${new Date().toISOString()} schedule fired for ${event.time}\n`);
    await cloud.lambda.invokeAsync(manager, event);
  });

  io.stdout.write(
    [
      'Fanout local cloud is running. Ctrl-C stops it.',
      `  S3 endpoint      ${cloud.s3Endpoint}  (bucket ${cloud.bucket})`,
      `  Lambda endpoint  ${cloud.lambdaEndpoint}  (${Object.values(cloud.topology.functions)
        .map((f) => f.name)
        .join(', ')})`,
      demo ? `  demo sources     ${demo.url}` : '  demo sources     off (--no-demo)',
      `  secrets endpoint ${cloud.secretsEndpoint}  (SSM and Secrets Manager, values from ${cloud.secretsFile})`,
      `  schedule         ${expression} -> ${manager}`,
      `  data             ${home}`,
      '',
      'Point the AWS CLI or any SDK at it:',
      `  export AWS_ACCESS_KEY_ID=${LOCAL_CREDENTIALS.accessKeyId} AWS_SECRET_ACCESS_KEY=${LOCAL_CREDENTIALS.secretAccessKey} AWS_REGION=${LOCAL_REGION} AWS_DEFAULT_REGION=${LOCAL_REGION}`,
      `  aws --endpoint-url ${cloud.s3Endpoint} s3 ls s3://${cloud.bucket}/parsed/ --recursive`,
      `  aws --endpoint-url ${cloud.lambdaEndpoint} lambda invoke --function-name ${manager} --invocation-type Event --cli-binary-format raw-in-base64-out --payload '{"type":"fanout.manual","runId":"manual-1"}' /dev/null`,
      `  npx -y pnpm@10.34.9 fanout status --endpoint ${cloud.s3Endpoint}`,
      `  npx -y pnpm@10.34.9 fanout replay --endpoint ${cloud.s3Endpoint} --lambda-endpoint ${cloud.lambdaEndpoint}`,
      '',
    ].join('\n'),
  );

  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  io.stderr.write('Stopping: waiting for running invocations...\n');
  schedule.stop();
  await stop();
  return 0;
}
