import { writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { resultOf, runNode } from '../child.js';
import { type BenchMode, type CaseResult, minifiedBundle, withTempDir } from '../common.js';
import type { Figure } from '../report.js';
import { median } from '../stats.js';
import { HTML_MODULES, HTML_READERS, type HtmlThroughput } from './html-libraries-work.js';
import { writeShopPages } from './html-pages.js';

const CASE = '8 HTML';
const MB = 1024 * 1024;
/** The page set: 20 MB of generated shop list pages, in full and quick mode alike. */
const PAGE_SET_MB = 20;
const HTML_CHILD = join(dirname(fileURLToPath(import.meta.url)), 'html-child.mjs');
const BENCH_PACKAGE = resolve(dirname(fileURLToPath(import.meta.url)), '..');
/** The heap a 256 MB function gets in the local Lambda (as the parser case runs its children). */
const FUNCTION_HEAP = ['--max-old-space-size=240', '--max-semi-space-size=8'];
const PARSER = 'the parser (html format: decode, DOM, selectors, envelope, gzip)';

/** Times `await import(file)` in a fresh process. */
const PROBE = `
const started = performance.now();
await import(process.env.BENCH_BUNDLE_URL);
process.stdout.write(JSON.stringify({ ms: performance.now() - started }) + '\\n');
`;

/** A library's modules bundled and minified as the function bundles are, written to `outfile`. */
async function bundleModule(contents: string, outfile: string): Promise<number> {
  const bundle = await minifiedBundle(contents, BENCH_PACKAGE, { importable: true });
  await writeFile(outfile, bundle);
  return bundle.length;
}

async function loadMs(file: string): Promise<number> {
  const out = await runNode(['--input-type=module', '-e', PROBE], {
    ...process.env,
    BENCH_BUNDLE_URL: pathToFileURL(file).href,
  });
  const line = out.stdout.trim().split('\n').pop() ?? '';
  if (out.code !== 0 || !line.startsWith('{'))
    throw new Error(`loading ${file} failed: ${out.stderr}`);
  return (JSON.parse(line) as { ms: number }).ms;
}

async function htmlChild(args: string[], nodeOptions: string[] = []): Promise<HtmlThroughput> {
  return resultOf<HtmlThroughput>(
    args.slice(0, 2).join(' '),
    await runNode([HTML_CHILD, ...args], process.env, nodeOptions),
  );
}

/**
 * HTML libraries and the parser's html format on a 20 MB set of generated shop list pages
 * (about 30 KB and 40 products a page): for each library (htmlparser2 + css-select +
 * domutils, cheerio with parse5, cheerio slim), parse every page and read 7 fields of each
 * product, in a fresh process per run, interleaved; its minified size and the time a fresh
 * process takes to import it, against an empty module. Then the parser on the same pages.
 */
export async function htmlCase(mode: BenchMode): Promise<CaseResult> {
  const reps = mode.quick ? 1 : 3;
  const loads = mode.quick ? 3 : 9;
  const names = Object.keys(HTML_READERS);
  mode.progress(
    `case ${CASE}: ${names.length} libraries + the parser, ${PAGE_SET_MB} MB, ${reps} run(s)`,
  );
  const runs = new Map<string, HtmlThroughput[]>([...names, PARSER].map((name) => [name, []]));
  const sizes = new Map<string, number>();
  const loadTimes = new Map<string, number[]>([...names, 'empty module'].map((n) => [n, []]));
  let pages = 0;
  await withTempDir('html', async (dir) => {
    const files = await writeShopPages(dir, PAGE_SET_MB * MB);
    pages = files.length;
    for (let rep = 0; rep < reps; rep += 1) {
      for (const name of names) runs.get(name)?.push(await htmlChild(['throughput', name, dir]));
      runs.get(PARSER)?.push(await htmlChild(['parser', dir], FUNCTION_HEAP));
      mode.progress(`  run ${rep + 1}/${reps}`);
    }
    const bundles = new Map<string, string>();
    for (const [index, name] of [...names, 'empty module'].entries()) {
      const file = join(dir, `library-${index}.mjs`);
      sizes.set(name, await bundleModule(HTML_MODULES[name] ?? 'export {};', file));
      bundles.set(name, file);
    }
    for (let i = 0; i < loads; i += 1) {
      for (const [name, file] of bundles) loadTimes.get(name)?.push(await loadMs(file));
    }
  });
  const empty = loadTimes.get('empty module') ?? [];
  const mbPerS = (r: HtmlThroughput, ms: number) => r.bytes / MB / (ms / 1000);
  const figures: Figure[] = [...names, PARSER].flatMap((name): Figure[] => {
    const list = runs.get(name) ?? [];
    const throughput: Figure[] = [
      {
        caseId: CASE,
        metric: `${name}: MB/s`,
        unit: 'MB/s',
        samples: list.map((r) => mbPerS(r, r.wallMs)),
      },
      {
        caseId: CASE,
        metric: `${name}: MB per CPU-second`,
        unit: 'MB/s',
        samples: list.map((r) => mbPerS(r, r.cpuMs)),
      },
      {
        caseId: CASE,
        metric: `${name}: peak RSS`,
        unit: 'MB',
        samples: list.map((r) => r.peakRssMb),
      },
    ];
    if (name === PARSER) return throughput;
    return [
      ...throughput,
      {
        caseId: CASE,
        metric: `${name}: minified size`,
        unit: 'KB',
        samples: [(sizes.get(name) ?? 0) / 1024],
      },
      {
        caseId: CASE,
        metric: `${name}: import time over an empty module`,
        unit: 'ms',
        samples: (loadTimes.get(name) ?? []).map((ms, i) => ms - (empty[i] ?? Number.NaN)),
      },
    ];
  });
  return {
    figures,
    details: {
      pageSetMb: PAGE_SET_MB,
      pages,
      records: Object.fromEntries([...runs].map(([name, list]) => [name, list[0]?.records])),
      firstRecord: Object.fromEntries(names.map((name) => [name, runs.get(name)?.[0]?.first])),
      medianLoadMs: Object.fromEntries([...loadTimes].map(([name, list]) => [name, median(list)])),
      how: 'generated shop list pages (src/cases/html-pages.ts) written to files; each library in a fresh node process (dist/html-child.mjs) reads every page and 7 fields of each product (text, attributes, inner HTML, a list), the libraries interleaved; the parser row runs parseStream with the html format and a counting sink under the heap flags of a 256 MB function; peak RSS = VmHWM; size = esbuild --bundle --minify of the modules used; import time = a fresh process importing the minified bundle, minus the same for an empty module, interleaved',
    },
  };
}
