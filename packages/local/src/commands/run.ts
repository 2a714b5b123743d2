import { readFile, rm } from 'node:fs/promises';
import { relative } from 'node:path';
import {
  computeRunStatus,
  manifestDocument,
  parseManifest,
  parseScheduleExpression,
  topology,
} from '@fanout/shared';
import { parseChaos } from '../chaos.js';
import { fanoutHome, REPO_ROOT } from '../config.js';
import { RunIncompleteError, UsageError } from '../errors.js';
import { progressFor } from '../progress.js';
import { LocalSession } from '../session.js';
import { intOption, parseCommandArgs, timeOption } from './args.js';
import {
  assertPortsFree,
  COLLECTOR_TIMEOUT_OPTION,
  collectorTimeoutSeconds,
  localDemo,
  localFunctions,
  localPorts,
  PORT_OPTIONS,
} from './local-settings.js';
import { EXIT, exitCodeFor, problemLines, problemsOf } from './problems.js';
import { type RunSummary, recordsWritten, summarize, summaryTable } from './summary.js';

export { DEFAULT_PORTS, DEMO_COLLECTOR_TIMEOUT_SECONDS } from './local-settings.js';

export const RUN_OPTIONS = {
  json: { type: 'boolean' },
  sources: { type: 'string' },
  latency: { type: 'string' },
  chaos: { type: 'string' },
  ...COLLECTOR_TIMEOUT_OPTION,
  time: { type: 'string' },
  fresh: { type: 'boolean' },
  ...PORT_OPTIONS,
  'max-wait': { type: 'string' },
  manifest: { type: 'string' },
  'allow-problems': { type: 'boolean' },
} as const;

/**
 * A user's manifest for `run --manifest`: checked before anything starts, so a
 * mistake costs no startup. Every invalid entry is listed, one line each (a UTF-8
 * BOM at the start is fine).
 */
export async function readManifestFile(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new UsageError(
      `cannot read manifest ${path}: ${(error as NodeJS.ErrnoException).code ?? error}`,
      'pass the path of a JSON source manifest',
    );
  }
  let document: unknown;
  let result: ReturnType<typeof parseManifest>;
  try {
    document = manifestDocument(text);
    // The local cloud runs the topology's schedule: a cadence finer than it is refused here too.
    result = parseManifest(document, {
      schedule: parseScheduleExpression(topology.schedule.expression),
    });
  } catch (error) {
    throw new UsageError(
      `manifest ${path} is not valid: ${(error as Error).message}`,
      'fix the file and run again',
    );
  }
  if (result.invalid.length > 0) {
    const lines = result.invalid.flatMap((entry) => entry.errors.map((error) => `  ${error}`));
    const count = result.invalid.length;
    throw new UsageError(
      `manifest ${path}: ${count} invalid ${count === 1 ? 'entry' : 'entries'}; nothing was started\n${lines.join('\n')}`,
      'fix them and run again; the format is in packages/shared/README.md',
    );
  }
  return document;
}

export interface Io {
  readonly stdout: NodeJS.WriteStream;
  readonly stderr: NodeJS.WriteStream;
}

/**
 * `fanout run`: one cycle over the demo sources (or `--manifest`), start to finish: a
 * manual run now, or with `--time` the schedule fired at that time.
 */
export async function runCommand(argv: string[], io: Io): Promise<number> {
  const { values } = parseCommandArgs('run', argv, RUN_OPTIONS);
  const home = fanoutHome();
  if (values.fresh) await rm(home, { recursive: true, force: true });
  const collectorTimeout = collectorTimeoutSeconds(values['collector-timeout']);
  // `--time` fires the schedule at that time; without it the run is a manual run now,
  // which continues from the latest run (scheduled or manual) and is logged for the next.
  const trigger = values.time === undefined ? 'manual' : 'schedule';
  const time = timeOption(values.time);
  const chaos = parseChaos(values.chaos);
  // Every option is checked before anything starts, so a typo costs no startup.
  const ports = localPorts(values);
  const count = intOption('sources', values.sources, 20);
  const latencyMs = intOption('latency', values.latency, 50);
  const maxWaitMs = intOption('max-wait', values['max-wait'], 600) * 1000;
  const manifest = values.manifest ? await readManifestFile(values.manifest) : undefined;
  await assertPortsFree(ports);
  const progress = progressFor(io.stderr, true);
  const log = (line: string) => io.stderr.write(`${line}\n`);

  log(`Starting the local cloud (data in ${home})`);
  const session = await LocalSession.start({
    home,
    s3Port: ports.s3,
    lambdaPort: ports.lambda,
    ...(ports.secrets !== undefined ? { secretsPort: ports.secrets } : {}),
    functions: localFunctions(collectorTimeout),
    chaos,
    ...(manifest ? { manifest } : {}),
    // The slow source outlasts a whole collector invocation: only a continuation finishes it.
    demo: localDemo(collectorTimeout, { port: ports.demo, count, latencyMs }),
  });
  let summary: RunSummary;
  let problems: Awaited<ReturnType<typeof problemsOf>>;
  try {
    log(
      `S3 ${session.cloud.s3Endpoint}  Lambda ${session.cloud.lambdaEndpoint}  demo sources ${session.demo.url}`,
    );
    log(
      trigger === 'manual'
        ? `Starting a manual run at ${time.toISOString()} (it continues from the latest run)`
        : `Firing the schedule for ${time.toISOString()}`,
    );
    const result = await session.cycle({
      time,
      trigger,
      maxWaitMs,
      onProgress: (status, deadLettered, elapsedMs) =>
        progress.update(status, { deadLettered, elapsedMs }),
    });
    progress.done();
    // The records the summary's numbers and problem list come from: one read, so they agree.
    const records = await session.records.records(result.runId);
    problems = await problemsOf(result.runId, records, session.records);
    summary = summarize(
      { ...result, status: computeRunStatus(result.runId, records) },
      problems.shown,
      recordsWritten(records),
    );
  } catch (error) {
    if (!(error instanceof RunIncompleteError)) throw error;
    progress.done();
    io.stderr.write(`fanout: ${error.message}\n${error.hint ? `  ${error.hint}\n` : ''}`);
    return EXIT.incomplete;
  } finally {
    await session.stop();
  }

  if (values.json) {
    io.stdout.write(`${JSON.stringify(summary)}\n`);
  } else {
    const state = summary.complete ? 'complete' : 'INCOMPLETE';
    io.stdout.write(
      `\nRun ${summary.runId} ${state} in ${(summary.durationMs / 1000).toFixed(1)} s\n${summaryTable(summary)}\n\n`,
    );
    io.stdout.write(problemLines(summary.runId, session.cloud.bucket, problems));
    if (problems.total > 0) io.stdout.write('\n');
    const inRepo = !relative(REPO_ROOT, home).startsWith('..');
    const where = inRepo ? relative(REPO_ROOT, home) : home;
    const date = time.toISOString().slice(0, 10);
    io.stdout.write(
      [
        'Your records (read from the data folder; no cloud needs to run):',
        "  npx -y pnpm@10.34.9 fanout records <source>      a source's latest records, one JSON value a line",
        '  npx -y pnpm@10.34.9 fanout query "SELECT source, count(*) FROM records_latest GROUP BY source"',
        '',
        'Outputs (bucket fanout-local; see them with `npx -y pnpm@10.34.9 fanout start` and the AWS CLI):',
        `  parsed records  s3://fanout-local/parsed/dt=${date}/${summary.runId}~*.ndjson.gz`,
        '  quarantine      s3://fanout-local/quarantine/',
        `  run records     s3://fanout-local/runs/${summary.runId}/ and raw/packs/dt=${date}/${summary.runId}-*`,
        `  data folder     ${where}/s3, dead letters ${where}/dead-letters, logs ${where}/logs`,
        '',
      ].join('\n'),
    );
  }
  if (!summary.complete) {
    io.stderr.write(
      `fanout: run ${summary.runId} is incomplete: ${summary.pending} tasks without an outcome, ` +
        `${summary.unparsed} pages not parsed, ${summary.deadLettered} events dead-lettered\n` +
        `  replay them with: npx -y pnpm@10.34.9 fanout replay ${summary.runId}\n`,
    );
  }
  const code = exitCodeFor(summary);
  // The demo quarantines its malformed source on purpose: `pnpm start` shows it and succeeds.
  return values['allow-problems'] && code === EXIT.problems ? EXIT.clean : code;
}
