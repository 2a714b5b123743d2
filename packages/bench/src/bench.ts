import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { coldStartCase } from './cases/cold-start.js';
import { costCase } from './cases/cost.js';
import { csvLibrariesCase } from './cases/csv-libraries.js';
import { dispatchCase } from './cases/dispatch.js';
import { fanOutCase } from './cases/fanout.js';
import { htmlCase } from './cases/html.js';
import { parserCase } from './cases/parser.js';
import { scaleCase } from './cases/scale.js';
import type { BenchMode, CaseResult } from './common.js';
import {
  describeMachine,
  type FigureRow,
  type Machine,
  renderMachine,
  renderTable,
  toRow,
} from './report.js';

/** packages/bench/dist -> the repository root. */
const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

type CaseRow = FigureRow & { readonly case: string };

interface ResultsFile {
  readonly rows: CaseRow[];
  readonly details: Record<string, unknown>;
  readonly errors: Record<string, string>;
}

/**
 * With --only, the other cases' figures are kept from the existing results file,
 * so one case can be measured again without running the whole suite.
 */
async function mergeWithExisting(
  file: string,
  selected: readonly string[],
  fresh: ResultsFile,
): Promise<ResultsFile> {
  let existing: ResultsFile;
  try {
    existing = JSON.parse(await readFile(file, 'utf8')) as ResultsFile;
  } catch {
    return fresh;
  }
  const order = Object.keys(CASES);
  const kept = (existing.rows ?? []).filter((row) => row.case && !selected.includes(row.case));
  const rows = [...kept, ...fresh.rows].sort(
    (a, b) => order.indexOf(a.case) - order.indexOf(b.case),
  );
  const details = { ...existing.details, ...fresh.details };
  const errors = Object.fromEntries(
    Object.entries({ ...existing.errors, ...fresh.errors }).filter(
      ([name]) => !selected.includes(name) || name in fresh.errors,
    ),
  );
  return { rows, details, errors };
}

const CASES: Record<string, (mode: BenchMode) => Promise<CaseResult>> = {
  // Short cases first, so an interrupted full run still has most figures.
  'cold-start': coldStartCase,
  dispatch: dispatchCase,
  cost: costCase,
  fanout: fanOutCase,
  parser: parserCase,
  scale: scaleCase,
  'csv-libraries': csvLibrariesCase,
  html: htmlCase,
};

const USAGE = `Usage: pnpm bench [--quick] [--only case,case] [--out file] [--report]
  --report  print the table of an existing results file, measuring nothing
Cases: ${Object.keys(CASES).join(', ')}`;

async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean', default: false },
      only: { type: 'string' },
      out: { type: 'string' },
      report: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const selected = values.only
    ? values.only.split(',').map((name) => name.trim())
    : Object.keys(CASES);
  for (const name of selected) {
    if (!CASES[name]) {
      process.stderr.write(`unknown case ${JSON.stringify(name)}\n${USAGE}\n`);
      return 2;
    }
  }
  const quick = values.quick ?? false;
  if (values.report) {
    const file =
      values.out ?? join(REPO_ROOT, 'bench', 'results', quick ? 'quick.json' : 'latest.json');
    const saved = JSON.parse(await readFile(file, 'utf8')) as ResultsFile & {
      date: string;
      machine: Machine;
    };
    process.stdout.write(
      `Fanout benchmarks from ${file} (${saved.date})\nMachine: ${renderMachine(saved.machine)}\n\n${renderTable(saved.rows)}\n`,
    );
    return 0;
  }
  const mode: BenchMode = { quick, progress: (line) => process.stderr.write(`${line}\n`) };
  const machine = describeMachine();
  const started = Date.now();
  const rows: CaseRow[] = [];
  const details: Record<string, unknown> = {};
  const errors: Record<string, string> = {};
  const out =
    values.out ?? join(REPO_ROOT, 'bench', 'results', quick ? 'quick.json' : 'latest.json');
  /** Written after every case, so an interrupted run keeps what it measured. */
  const save = async (): Promise<ResultsFile> => {
    const fresh: ResultsFile = { rows, details, errors };
    const merged = values.only ? await mergeWithExisting(out, selected, fresh) : fresh;
    await mkdir(dirname(out), { recursive: true });
    await writeFile(
      out,
      `${JSON.stringify(
        {
          mode: quick ? 'quick' : 'full',
          date: new Date().toISOString(),
          command: ['pnpm bench', ...argv].join(' '),
          machine,
          seconds: (Date.now() - started) / 1000,
          ...merged,
        },
        null,
        2,
      )}\n`,
    );
    return merged;
  };
  for (const name of selected) {
    const run = CASES[name];
    if (!run) continue;
    const caseStarted = Date.now();
    try {
      const result = await run(mode);
      rows.push(...result.figures.map((figure) => ({ ...toRow(figure), case: name })));
      details[name] = { ...result.details, seconds: (Date.now() - caseStarted) / 1000 };
    } catch (error) {
      // One broken case must not hide the others' figures.
      const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
      errors[name] = message;
      mode.progress(`case ${name} failed: ${message}`);
      rows.push({
        ...toRow({
          caseId: name,
          metric: 'case failed',
          unit: '',
          samples: [],
          target: { op: '>=', value: 1 },
          note: 'ERROR (see stderr)',
        }),
        case: name,
      });
    }
    await save();
  }
  const merged = await save();
  const seconds = (Date.now() - started) / 1000;
  const table = renderTable(merged.rows);
  const missed = merged.rows.filter((row) => row.met === false).length;
  const partial = values.only
    ? ` (${selected.join(', ')} measured now; other rows from ${out})`
    : '';
  process.stdout.write(
    `\nFanout benchmarks (${quick ? 'quick' : 'full'}), ${new Date().toISOString()}${partial}\nMachine: ${renderMachine(machine)}\n\n${table}\n\n${missed} target(s) missed; this run took ${seconds.toFixed(0)} s.\n`,
  );
  process.stderr.write(`results written to ${out}\n`);
  return Object.keys(errors).length > 0 ? 1 : 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(
      `${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exit(1);
  },
);
