/**
 * The CLI's help, as data: `fanout help` prints every command, `fanout <command> --help`
 * (or `-h`, anywhere on the line) one of them. Each command's options here are the
 * options its parser accepts (tests/cli/help.test.ts checks both ways).
 */

/** An option as help shows it: the flag with its value, and what it does. */
export type OptionHelp = readonly [usage: string, description: string];

export interface CommandHelp {
  readonly name: string;
  /** Positional arguments, as usage shows them (`[runId]`). */
  readonly args: string;
  readonly summary: string;
  readonly options: readonly OptionHelp[];
  /** Where it reads or sends work: `read` (--bucket/--endpoint/--region, --s3-port), `work` (those and the functions). */
  readonly where?: 'read' | 'local' | 'work';
}

const PORTS: readonly OptionHelp[] = [
  ['--s3-port P', 'the local S3 server (default 4600)'],
  ['--lambda-port P', 'the Lambda Invoke endpoint (default 4601)'],
  ['--demo-port P', 'the demo sources (default 4602)'],
  ['--secrets-port P', 'the SSM and Secrets Manager endpoint (default the S3 port + 3: 4603)'],
];

const COLLECTOR_TIMEOUT: OptionHelp = [
  '--collector-timeout S',
  'local collector timeout in seconds (default 8, so continuation is exercised)',
];

const READ_WHERE: readonly OptionHelp[] = [
  [
    '--endpoint URL',
    'an S3-compatible endpoint, e.g. a running `fanout start` (http://127.0.0.1:4600)',
  ],
  [
    '--bucket NAME',
    'a real bucket in AWS (SDK default credentials), or another bucket at --endpoint',
  ],
  ['--region NAME', 'the AWS region of --bucket'],
  ['--s3-port P', 'the port of the S3 server it reads the local data through (default a free one)'],
];

const WORK_WHERE: readonly OptionHelp[] = [
  ['--bucket NAME', 'a stack in AWS: its bucket (with --region); work goes to its functions'],
  ['--region NAME', 'the AWS region of --bucket'],
  ['--endpoint URL', 'an S3-compatible endpoint to read the run from (with --lambda-endpoint)'],
  [
    '--lambda-endpoint URL',
    'with --endpoint: the Lambda Invoke endpoint the work goes to (a running `fanout start`: http://127.0.0.1:4601)',
  ],
  ['--collector-function NAME', 'the collector to send work to (default fanout-collector)'],
  ['--parser-function NAME', 'the parser to send work to (default fanout-parser)'],
  ...PORTS,
  [COLLECTOR_TIMEOUT[0], 'as for run: re-sent work runs as it first ran'],
];

export const COMMANDS: readonly CommandHelp[] = [
  {
    name: 'run',
    args: '',
    summary:
      'start the local cloud and demo sources, run one cycle (a manual run that continues from the latest run), wait until it is complete and print a summary',
    options: [
      ['--json', 'print the summary as one JSON object on stdout'],
      ['--manifest FILE', 'run your own source manifest instead of the demo one (checked first)'],
      ['--sources N', 'generated demo sources besides the sample ones (default 20)'],
      ['--latency MS', 'their upstream latency (default 50)'],
      [
        '--chaos[=SPEC]',
        'fault injection, e.g. --chaos=upstream-errors=0.1,duplicates=0.5 (upstream-errors, upstream-hangs, s3-errors, duplicates, collector-timeouts)',
      ],
      COLLECTOR_TIMEOUT,
      [
        '--time ISO',
        'fire the schedule at this time instead (cadences apply); the run id derives from it',
      ],
      ['--max-wait S', 'give up waiting after S seconds (default 600): exit 3'],
      ['--fresh', 'delete the local data first'],
      [
        '--allow-problems',
        'exit 0 when the run completes with failed or quarantined sources (`pnpm start` passes it: the demo quarantines a source on purpose)',
      ],
      ...PORTS,
    ],
    where: 'local',
  },
  {
    name: 'start',
    args: '',
    summary:
      'run the local cloud (S3, Lambda, secrets) and the schedule until Ctrl-C, printing the endpoints',
    options: [
      [
        '--schedule EXPR',
        'override the topology\'s schedule, e.g. "rate(1 minute)" (the manager is told it: each cycle continues from the previous)',
      ],
      ['--no-demo', 'no demo sources (and no demo manifest uploaded): bring your own'],
      COLLECTOR_TIMEOUT,
      ...PORTS,
    ],
    where: 'local',
  },
  {
    name: 'status',
    args: '[runId]',
    summary:
      'completeness and counts of a run (default: the latest by time), from its records in S3 alone',
    options: [['--json', 'print the status and every problem as one JSON object']],
    where: 'read',
  },
  {
    name: 'records',
    args: '<source>',
    summary:
      "a source's records from its latest run, each its exact JSON on a line (a count on stderr)",
    options: [
      ['--run R', 'that run instead'],
      ['--limit N', 'at most N records (default 20)'],
      ['--json', 'one object a line: page, fetchedat, key, hash, record'],
    ],
    where: 'read',
  },
  {
    name: 'query',
    args: '"<SQL>"',
    summary:
      "SQL (DuckDB) over the parsed records: tables records, records_latest (the latest version of each source and key) and records_changes (each version once), with the Glue table's columns; json_extract_scalar works. Reads the parsed/ objects through the S3 API into FANOUT_HOME/query-cache first",
    options: [
      ['--json', 'one JSON object a line'],
      ['--csv', 'CSV with a header row (default: a table)'],
    ],
    where: 'read',
  },
  {
    name: 'runs',
    args: '',
    summary: 'list the latest runs, newest first, with their state and counts',
    options: [
      ['--limit N', 'how many (default 20)'],
      ['--json', 'print them as one JSON object'],
    ],
    where: 'read',
  },
  {
    name: 'replay',
    args: '[runId]',
    summary: 're-deliver the dead letters and failed work of a run, minus what is done',
    options: [
      ['--pending', 'also re-send tasks that have no outcome yet'],
      [
        '--include-failed',
        'also re-send permanent failures (a 4xx other than 408 and 429, a body over the limit)',
      ],
      ['--json', 'print the report as one JSON object'],
    ],
    where: 'work',
  },
  {
    name: 'reparse',
    args: '<prefix>',
    summary:
      "run the parser again over raw objects (packs or single) under a prefix of raw/, with each source's format and options from the current manifest, wait for each outcome and name the ones that failed",
    options: [['--stored-options', 'parse with the format and options stored with the data']],
    where: 'work',
  },
  {
    name: 'report',
    args: '[runId]',
    summary:
      'write one self-contained HTML page about a run: timeline, totals, estimated cost, sources (default: the latest by time)',
    options: [
      ['--out FILE', 'where (default fanout-report-<runId>.html)'],
      ['--schedule EXPR', "runs per month for the cost (default the topology's schedule)"],
    ],
    where: 'read',
  },
  {
    name: 'cost',
    args: '',
    summary: "the monthly estimate for the stack from its recent runs' records",
    options: [
      ['--runs N', 'how many of the latest runs to average (default 6)'],
      ['--schedule EXPR', "runs per month from this schedule (default the topology's)"],
      ['--json', 'print it as one JSON object'],
    ],
    where: 'read',
  },
];

const PNPM = 'npx -y pnpm@10.34.9';

export const EXIT_CODES = `Exit codes (every command):
  0  done; for a run: complete and clean
  1  the run is complete, with failed sources or quarantined pages
  2  the command could not answer: a usage error, bad input (an invalid run id, a
     manifest that does not validate), a port in use, an endpoint or bucket that is not there
  3  the run is incomplete (tasks without an outcome, pages without a parse outcome)
  4  the run failed (its manifest says failed)
`;

/** Where descriptions start, whatever the indent (unless a flag is longer). */
const DESCRIPTION_COLUMN = 31;

/** `--flag V` padded to a column, then the description wrapped to 96 characters. */
function optionLines(options: readonly OptionHelp[], indent: number): string[] {
  const width = Math.max(
    DESCRIPTION_COLUMN - indent,
    ...options.map(([usage]) => usage.length + 2),
  );
  const lines: string[] = [];
  for (const [usage, description] of options) {
    const words = description.split(' ');
    let line = `${' '.repeat(indent)}${usage.padEnd(width)}`;
    let fresh = true;
    for (const word of words) {
      if (!fresh && line.length + 1 + word.length > 96) {
        lines.push(line);
        line = `${' '.repeat(indent + width)}${word}`;
        continue;
      }
      line += fresh ? word : ` ${word}`;
      fresh = false;
    }
    lines.push(line);
  }
  return lines;
}

function whereOptions(command: CommandHelp): readonly OptionHelp[] {
  if (command.where === 'read') return READ_WHERE;
  if (command.where === 'work') return WORK_WHERE;
  return [];
}

/** The help of one command: what `fanout <command> --help` prints. */
export function commandHelp(command: CommandHelp): string {
  const where = whereOptions(command);
  const usage = `${command.name}${command.args ? ` ${command.args}` : ''} [options]`;
  return [
    `Usage: ${PNPM} fanout ${usage}`,
    '',
    `${command.summary[0]?.toUpperCase() ?? ''}${command.summary.slice(1)}.`,
    '',
    ...(command.options.length > 0 ? ['Options:', ...optionLines(command.options, 2), ''] : []),
    ...(where.length > 0
      ? [
          command.where === 'work'
            ? 'Where (default: the local data, .fanout/ or FANOUT_HOME, with the local cloud started for it):'
            : 'Where (default: the local data, .fanout/ or FANOUT_HOME):',
          ...optionLines(where, 2),
          '',
        ]
      : []),
    EXIT_CODES,
  ].join('\n');
}

/** `fanout help`: every command with its own options, then where and the exit codes. */
export function fullHelp(): string {
  const lines = [
    'fanout: the Fanout pipeline on this machine',
    '',
    `Usage: ${PNPM} fanout <command> [options]`,
    `       ${PNPM} fanout <command> --help     (or -h) one command's options`,
    `       ${PNPM} -s fanout ...               pnpm's -s leaves out its own "> ..." lines`,
    '',
    'Commands:',
  ];
  for (const command of COMMANDS) {
    const head = `${command.name}${command.args ? ` ${command.args}` : ''}`;
    lines.push(...optionLines([[head, command.summary]], 2));
    lines.push(...optionLines(command.options, 6));
  }
  lines.push(...optionLines([['help [command]', "this text, or one command's"]], 2));
  lines.push(
    '',
    'Where (status, runs, records, query, report, cost; default the local data, .fanout/ or FANOUT_HOME):',
    ...optionLines(READ_WHERE, 2),
    '',
    'Where (replay, reparse; default the local data, with the local cloud started for it):',
    ...optionLines(
      WORK_WHERE.filter(([usage]) => !PORTS.some(([port]) => port === usage)),
      2,
    ),
    '  and the ports of run and start: --s3-port, --lambda-port, --demo-port, --secrets-port',
    '',
    EXIT_CODES,
  );
  return lines.join('\n');
}

export function findCommand(name: string): CommandHelp | undefined {
  return COMMANDS.find((command) => command.name === name);
}
