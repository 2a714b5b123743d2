import { costCommand } from './commands/cost.js';
import { queryCommand } from './commands/query.js';
import { recordsCommand } from './commands/records.js';
import { reparseCommand } from './commands/reparse.js';
import { replayCommand } from './commands/replay.js';
import { reportCommand } from './commands/report.js';
import { type Io, runCommand } from './commands/run.js';
import { startCommand } from './commands/start.js';
import { statusCommand } from './commands/status.js';
import { LocalCloudError, UsageError } from './errors.js';

const HELP = `fanout: the Fanout pipeline on this machine

Usage: npx -y pnpm@10.34.9 fanout <command> [options]

Commands:
  run                 start the local cloud and demo sources, fire one scheduled cycle,
                      wait until it is complete and print a summary
      --json              print the summary as one JSON object on stdout
      --sources N         generated demo sources besides the sample ones (default 20)
      --latency MS        their upstream latency (default 50)
      --chaos[=SPEC]      fault injection, e.g. --chaos=upstream-errors=0.1,duplicates=0.5
                          (upstream-errors, upstream-hangs, s3-errors, duplicates, collector-timeouts)
      --collector-timeout S   local collector timeout (default 8, so continuation is exercised)
      --time ISO          the scheduled time to fire (default now); the run id derives from it
      --fresh             delete the local data first
      --manifest FILE     run your own source manifest instead of the demo one
      --allow-problems    exit 0 when the run completes with failed or quarantined sources
                          (\`pnpm start\` passes it: the demo quarantines a source on purpose)
  start               run the local cloud and the schedule until Ctrl-C, printing endpoints
      --schedule EXPR     override the topology's schedule, e.g. "rate(1 minute)"
  status [runId]      completeness and counts of a run (default: the latest by time), from S3 alone
  replay [runId]      re-deliver the dead letters and failed work of a run, minus what is done
      --pending           also re-send tasks that have no outcome yet
  reparse <prefix>    run the parser again over raw objects (packs or single) under a prefix,
                      wait for each one's outcome and name the ones that failed
  report [runId]      write one self-contained HTML page about a run: timeline, totals,
                      estimated cost, sources (default: the latest by time)
      --out FILE          where (default fanout-report-<runId>.html)
  cost                the monthly estimate for the stack from its recent runs' records
      --runs N            how many of the latest runs to average (default 6)
      --json              print it as one JSON object
      --schedule EXPR     (report, cost) runs per month from this schedule
                          (default the topology's)
  records <source>    the records a source gave in its latest run, one JSON value a line
      --run R             that run instead
      --limit N           at most N records (default 20)
      --json              one object a line: page, fetchedat, key, hash, record
  query "<SQL>"       SQL (DuckDB) over the parsed records: tables records, records_latest
                      (latest version of each source and key) and records_changes (each
                      version once), the Glue table's columns; json_extract_scalar works
      --json | --csv      one JSON object a line, or CSV (default: a table)
                      (records, query) read the bucket's parsed/ objects through the S3
                      API into a cache under FANOUT_HOME/query-cache first
  help                this text

Exit codes of run, status, replay and reparse: 0 complete and clean, 1 complete with
failures or quarantines, 3 incomplete, 4 the run failed; 2 for usage errors.

Where: by default the local cloud's data (.fanout/, or FANOUT_HOME).
  --endpoint URL      an S3-compatible endpoint (e.g. a running \`fanout start\`)
  --bucket NAME       a real bucket in AWS (SDK default credentials; --region)
  --s3-port, --lambda-port, --demo-port   local ports (default 4600, 4601, 4602)
  --collector-timeout S   (replay, reparse) as for run: re-sent work runs as it first ran
`;

/** Runs one command line; returns the exit code. Errors become one clear line. */
export async function main(argv: string[], io: Io): Promise<number> {
  const [rawCommand, ...rest] = argv;
  // `--chaos` alone means the default fault mix.
  const args = rest.map((arg, i) =>
    arg === '--chaos' && (rest[i + 1] === undefined || rest[i + 1]?.startsWith('--'))
      ? '--chaos='
      : arg,
  );
  try {
    switch (rawCommand) {
      case 'run':
        return await runCommand(args, io);
      case 'start':
        return await startCommand(args, io);
      case 'status':
        return await statusCommand(args, io);
      case 'replay':
        return await replayCommand(args, io);
      case 'reparse':
        return await reparseCommand(args, io);
      case 'report':
        return await reportCommand(args, io);
      case 'cost':
        return await costCommand(args, io);
      case 'query':
        return await queryCommand(args, io);
      case 'records':
        return await recordsCommand(args, io);
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        io.stdout.write(HELP);
        return 0;
      default:
        throw new UsageError(
          `unknown command ${JSON.stringify(rawCommand)}`,
          'commands: run, start, status, records, query, replay, reparse, report, cost, help',
        );
    }
  } catch (error) {
    if (error instanceof LocalCloudError) {
      io.stderr.write(`fanout: ${error.message}\n${error.hint ? `  ${error.hint}\n` : ''}`);
      return error instanceof UsageError ? 2 : 1;
    }
    const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    io.stderr.write(`fanout: ${message}\n`);
    if (process.env.FANOUT_DEBUG && error instanceof Error) io.stderr.write(`${error.stack}\n`);
    else io.stderr.write('  set FANOUT_DEBUG=1 for the stack trace\n');
    return 1;
  }
}

// Run when executed as the CLI (bin/fanout.mjs imports dist/cli.mjs and calls main).
