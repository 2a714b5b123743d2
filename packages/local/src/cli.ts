import { FanoutContractError, redactUrlsIn } from '@fanout/shared';
import { costCommand } from './commands/cost.js';
import { commandHelp, findCommand, fullHelp } from './commands/help.js';
import { EXIT } from './commands/problems.js';
import { queryCommand } from './commands/query.js';
import { recordsCommand } from './commands/records.js';
import { reparseCommand } from './commands/reparse.js';
import { replayCommand } from './commands/replay.js';
import { reportCommand } from './commands/report.js';
import { type Io, runCommand } from './commands/run.js';
import { runsCommand } from './commands/runs.js';
import { startCommand } from './commands/start.js';
import { statusCommand } from './commands/status.js';
import { LocalCloudError, UsageError } from './errors.js';

const COMMAND_FUNCTIONS: Readonly<Record<string, (argv: string[], io: Io) => Promise<number>>> = {
  run: runCommand,
  start: startCommand,
  status: statusCommand,
  runs: runsCommand,
  replay: replayCommand,
  reparse: reparseCommand,
  report: reportCommand,
  cost: costCommand,
  records: recordsCommand,
  query: queryCommand,
};

const COMMAND_LIST = `commands: ${Object.keys(COMMAND_FUNCTIONS).join(', ')}, help`;

const HELP_FLAGS = new Set(['--help', '-h']);

/** The help a command line asks for (`help`, `help <command>`, `<command> --help` anywhere), if any. */
function helpAsked(command: string | undefined, rest: readonly string[]): string | undefined {
  if (command === undefined || command === 'help' || HELP_FLAGS.has(command)) {
    const topic = command === 'help' ? rest[0] : undefined;
    const known = topic === undefined ? undefined : findCommand(topic);
    if (topic !== undefined && known === undefined) {
      throw new UsageError(`help: unknown command ${JSON.stringify(topic)}`, COMMAND_LIST);
    }
    return known ? commandHelp(known) : fullHelp();
  }
  const known = findCommand(command);
  return known && rest.some((arg) => HELP_FLAGS.has(arg)) ? commandHelp(known) : undefined;
}

/**
 * Runs one command line; returns the exit code (help.ts EXIT_CODES). Every error is one
 * line (`fanout: ...`) and at most one indented hint, exit 2: the command could not
 * answer. Only a run's own verdict is 1, 3 or 4.
 */
export async function main(argv: string[], io: Io): Promise<number> {
  const [command, ...rest] = argv;
  // `--chaos` alone means the default fault mix.
  const args = rest.map((arg, i) =>
    arg === '--chaos' && (rest[i + 1] === undefined || rest[i + 1]?.startsWith('--'))
      ? '--chaos='
      : arg,
  );
  try {
    const help = helpAsked(command, rest);
    if (help !== undefined) {
      io.stdout.write(help);
      return EXIT.clean;
    }
    const run = command === undefined ? undefined : COMMAND_FUNCTIONS[command];
    if (run === undefined) {
      throw new UsageError(`unknown command ${JSON.stringify(command)}`, COMMAND_LIST);
    }
    return await run(args, io);
  } catch (error) {
    io.stderr.write(errorLines(error));
    return EXIT.usage;
  }
}

/** An error as the CLI prints it: one line, and a hint or where to find more. */
function errorLines(error: unknown): string {
  if (error instanceof LocalCloudError) {
    return `fanout: ${error.message}\n${error.hint ? `  ${error.hint}\n` : ''}`;
  }
  // Bad input the contract names (an invalid key or run id, a document that does not validate).
  if (error instanceof FanoutContractError) return `fanout: ${redactUrlsIn(error.message)}\n`;
  const message =
    error instanceof Error ? `${error.name}: ${error.message.split('\n')[0]}` : String(error);
  const debug =
    process.env.FANOUT_DEBUG && error instanceof Error
      ? `${error.stack}\n`
      : '  set FANOUT_DEBUG=1 for the stack trace\n';
  return `fanout: ${redactUrlsIn(message)}\n${debug}`;
}

// Run when executed as the CLI (bin/fanout.mjs imports dist/cli.mjs and calls main).
