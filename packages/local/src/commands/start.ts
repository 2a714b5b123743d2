import { HeadObjectCommand } from '@aws-sdk/client-s3';
import { topology } from '@fanout/shared';
import { LocalCloud } from '../cloud.js';
import { fanoutHome, LOCAL_CREDENTIALS, LOCAL_REGION } from '../config.js';
import { startDemoSources } from '../demo/index.js';
import { parseScheduleExpression, startSchedule } from '../schedule/index.js';
import { parseCommandArgs } from './args.js';
import {
  assertPortsFree,
  COLLECTOR_TIMEOUT_OPTION,
  collectorTimeoutSeconds,
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

/** `fanout start`: the local cloud and the schedule, until Ctrl-C. */
export async function startCommand(argv: string[], io: Io): Promise<number> {
  const { values } = parseCommandArgs('start', argv, START_OPTIONS);
  const home = fanoutHome();
  // The settings `run`, `replay` and `reparse` use, so work started here runs the same way.
  const timeoutSeconds = collectorTimeoutSeconds(values['collector-timeout']);
  const ports = localPorts(values);
  // Checked before anything starts: the cloud's topology has the same schedule as `topology`.
  const expression = values.schedule ?? topology.schedule.expression;
  parseScheduleExpression(expression);
  await assertPortsFree(ports);
  const demo = values['no-demo']
    ? undefined
    : await startDemoSources(localDemo(timeoutSeconds, { port: ports.demo }));
  const cloud = await LocalCloud.start({
    home,
    s3Port: ports.s3,
    lambdaPort: ports.lambda,
    ...(ports.secrets !== undefined ? { secretsPort: ports.secrets } : {}),
    functions: localFunctions(timeoutSeconds),
  }).catch(async (error: unknown) => {
    await demo?.stop();
    throw error;
  });

  if (demo) {
    const existing = await cloud.s3
      .send(new HeadObjectCommand({ Bucket: cloud.bucket, Key: cloud.topology.manifestKey }))
      .then(() => true)
      .catch(() => false);
    if (!existing) await cloud.putManifest(demo.manifest());
  }
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
  await cloud.stop();
  await demo?.stop();
  return 0;
}
