import { existsSync } from 'node:fs';
import { mkdir, readFile, realpath, stat, symlink } from 'node:fs/promises';
import { builtinModules } from 'node:module';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '@fanout/local';
import { FUNCTION_IDS, type FunctionId, functionEnvironment, topology } from '@fanout/shared';
import { build, type Plugin } from 'esbuild';
import { runNode } from '../child.js';
import { type BenchMode, type CaseResult, withTempDir } from '../common.js';
import type { Figure } from '../report.js';

const CASE = '4 cold start';
const TARGET_MS = 50;
/** A function may take at most this much longer to import than the SDK clients it builds. */
const FLOOR_RATIO_TARGET = 1.1;

/** An SDK client a handler constructs, and the package it imports it from. */
interface SdkClient {
  readonly name: string;
  readonly module: string;
}

/**
 * The SDK clients a handler constructs at start: every `*Client` it imports (statically) from
 * `@aws-sdk/*` and calls `new` on, read from its `src/handler.ts`, so the floor follows the
 * handler when it gains one. A client the handler imports with `import()` and builds on first
 * use (the collector's SSM and Secrets Manager clients, built when a source first references
 * a secret) is not loaded by a cold start, and so is not in the floor either.
 */
export function sdkClientsOf(handlerSource: string): SdkClient[] {
  const clients: SdkClient[] = [];
  const imports = /import\s*\{([^}]*)\}\s*from\s*'(@aws-sdk\/[^']+)'/g;
  for (const [, names = '', module = ''] of handlerSource.matchAll(imports)) {
    for (const name of names.split(',').map((n) => n.replace(/^type\s+/, '').trim())) {
      if (/Client$/.test(name) && new RegExp(`new ${name}\\(`).test(handlerSource)) {
        clients.push({ name, module });
      }
    }
  }
  return clients;
}
const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const BUILTINS = new Set([...builtinModules, ...builtinModules.map((name) => `node:${name}`)]);

/** Times `await import(bundle)`: module evaluation includes building the handler's clients and config. */
const PROBE = `
const started = performance.now();
const cpuBefore = process.cpuUsage();
await import(process.env.BENCH_BUNDLE_URL);
const ms = performance.now() - started;
const cpu = process.cpuUsage(cpuBefore);
const cpuMs = (cpu.user + cpu.system) / 1000;
process.stdout.write(JSON.stringify({ ms, cpuMs, rss: process.memoryUsage().rss }) + '\\n');
`;

/**
 * One import: its wall time, and the CPU time the process spent meanwhile (every thread:
 * V8's compiler and GC threads too), which a busy machine's waiting for a core leaves out.
 */
interface Probe {
  readonly ms: number;
  readonly cpuMs: number;
}

function environment(id: FunctionId): Record<string, string> {
  const names = {
    bucket: 'fanout-bench',
    functions: {
      manager: topology.functions.manager.name,
      collector: topology.functions.collector.name,
      parser: topology.functions.parser.name,
    },
  };
  const spec = topology.functions[id];
  // NODE_OPTIONS (--enable-source-maps) included: it is part of what a function loads with.
  const fnEnv = functionEnvironment(id, names, topology);
  return {
    PATH: process.env.PATH ?? '',
    AWS_REGION: LOCAL_REGION,
    AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
    AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:9',
    AWS_ENDPOINT_URL_LAMBDA: 'http://127.0.0.1:9',
    AWS_LAMBDA_FUNCTION_NAME: spec.name,
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(spec.memoryMb),
    ...fnEnv,
  };
}

function packageName(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : (parts[0] ?? specifier);
}

/** Where node would find `name` from `fromDir`: the nearest node_modules/<name> up the tree. */
function findPackageDir(name: string, fromDir: string): string | undefined {
  for (let dir = fromDir; ; dir = dirname(dir)) {
    const candidate = join(dir, 'node_modules', name);
    if (existsSync(candidate)) return candidate;
    if (dirname(dir) === dir) return undefined;
  }
}

/**
 * The same handler with every npm package left as an import, so node loads the
 * SDK, Powertools and zod file by file from node_modules at import time. Only
 * the workspace packages (TypeScript sources) are compiled in. The npm packages
 * are linked into a node_modules folder beside the output, pointing at the
 * installed copies.
 */
async function buildUnbundled(id: FunctionId, dir: string): Promise<string> {
  const packages = new Map<string, string>();
  const externals: Plugin = {
    name: 'npm-external',
    setup(pluginBuild) {
      pluginBuild.onResolve({ filter: /^[^./]/ }, (args) => {
        if (BUILTINS.has(args.path) || args.path.startsWith('@fanout/')) return undefined;
        const name = packageName(args.path);
        const found = findPackageDir(name, args.resolveDir);
        if (found) packages.set(name, found);
        return { path: args.path, external: true };
      });
    },
  };
  const outfile = join(dir, `${id}.mjs`);
  await build({
    entryPoints: [join(REPO_ROOT, 'packages', id, 'src', 'handler.ts')],
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    outfile,
    plugins: [externals],
    logLevel: 'silent',
  });
  for (const [name, packageDir] of packages) {
    const link = join(dir, 'node_modules', name);
    if (existsSync(link)) continue;
    await mkdir(dirname(link), { recursive: true });
    await symlink(await realpath(packageDir), link, 'dir');
  }
  return outfile;
}

/**
 * The floor of a function's cold start: a bundle holding only the SDK clients the handler
 * constructs, built with the function bundles' esbuild options (each package's `build`
 * script) and resolved from the function's own package, so the SDK versions are its own.
 */
async function buildFloor(
  id: FunctionId,
  clients: readonly SdkClient[],
  dir: string,
  splitting: boolean,
): Promise<string> {
  const contents = [
    ...clients.map(({ name, module }) => `import { ${name} } from '${module}';`),
    `export const clients = [${clients.map(({ name }) => `new ${name}({})`).join(', ')}];`,
  ].join('\n');
  const outdir = join(dir, `${id}-floor`);
  const outfile = join(outdir, 'index.mjs');
  await build({
    stdin: {
      contents,
      resolveDir: join(REPO_ROOT, 'packages', id, 'src'),
      sourcefile: 'floor.ts',
      loader: 'ts',
    },
    bundle: true,
    platform: 'node',
    target: 'node22',
    format: 'esm',
    mainFields: ['module', 'main'],
    minify: true,
    sourcemap: true,
    legalComments: 'none',
    outdir,
    entryNames: 'index',
    chunkNames: 'chunks/[name]-[hash]',
    outExtension: { '.js': '.mjs' },
    splitting,
    banner: {
      js: "import{createRequire as __cr}from'node:module';const require=__cr(import.meta.url);",
    },
    logLevel: 'silent',
  });
  return outfile;
}

/** Whether a function's own build script splits its bundle into chunks (`--splitting`). */
async function splitsBundle(id: FunctionId): Promise<boolean> {
  const manifest = JSON.parse(
    await readFile(join(REPO_ROOT, 'packages', id, 'package.json'), 'utf8'),
  ) as { scripts?: { build?: string } };
  return /--splitting\b/.test(manifest.scripts?.build ?? '');
}

/**
 * Bytes node reads at import: the entry file and every chunk it imports statically, read from
 * esbuild's metafile (chunks behind a dynamic import load only when used).
 */
async function startupBytes(distDir: string): Promise<number> {
  const meta = JSON.parse(await readFile(join(distDir, 'meta.json'), 'utf8')) as {
    outputs: Record<string, { bytes: number; imports: { path: string; kind: string }[] }>;
  };
  const byName = new Map(
    Object.entries(meta.outputs).map(([file, output]) => [basename(file), output]),
  );
  const seen = new Set<string>();
  const visit = (file: string): number => {
    const name = basename(file);
    const output = byName.get(name);
    if (seen.has(name) || output === undefined) return 0;
    seen.add(name);
    return (
      output.bytes +
      output.imports
        .filter(
          (imported) => imported.kind === 'import-statement' && !imported.path.startsWith('node:'),
        )
        .reduce((sum, imported) => sum + visit(imported.path), 0)
    );
  };
  return visit('index.mjs');
}

async function probe(file: string, env: Record<string, string>): Promise<Probe> {
  const out = await runNode(['--input-type=module', '-e', PROBE], {
    ...env,
    BENCH_BUNDLE_URL: pathToFileURL(file).href,
  });
  const line = out.stdout.trim().split('\n').pop() ?? '';
  if (out.code !== 0 || !line.startsWith('{')) {
    throw new Error(`loading ${file} failed (exit ${out.code}): ${out.stderr.trim().slice(-500)}`);
  }
  const { ms, cpuMs } = JSON.parse(line) as Probe;
  return { ms, cpuMs };
}

export async function coldStartCase(mode: BenchMode): Promise<CaseResult> {
  const reps = mode.quick ? 3 : 15;
  mode.progress(`case ${CASE}: ${reps} fresh processes per function and variant`);
  const figures: Figure[] = [];
  const details: Record<string, unknown> = {};
  await withTempDir('unbundled', async (dir) => {
    for (const id of FUNCTION_IDS) {
      const bundle = join(REPO_ROOT, 'packages', id, 'dist', 'index.mjs');
      const unbundled = await buildUnbundled(id, dir);
      const sdkClients = sdkClientsOf(
        await readFile(join(REPO_ROOT, 'packages', id, 'src', 'handler.ts'), 'utf8'),
      );
      const splitting = await splitsBundle(id);
      const floorBundle = await buildFloor(id, sdkClients, dir, splitting);
      const env = environment(id);
      const bundledProbes: Probe[] = [];
      const fromModules: number[] = [];
      const floorProbes: Probe[] = [];
      // Interleaved, so a slow moment of the machine hits every variant alike.
      for (let i = 0; i < reps; i += 1) {
        bundledProbes.push(await probe(bundle, env));
        floorProbes.push(await probe(floorBundle, env));
        fromModules.push((await probe(unbundled, env)).ms);
      }
      const bundled = bundledProbes.map(({ ms }) => ms);
      const floor = floorProbes.map(({ ms }) => ms);
      const bundledCpu = bundledProbes.map(({ cpuMs }) => cpuMs);
      const floorCpu = floorProbes.map(({ cpuMs }) => cpuMs);
      const size = await startupBytes(dirname(bundle));
      const floorSize = (await stat(floorBundle)).size;
      const clients = sdkClients.map(({ name }) => name).join(' + ');
      figures.push(
        {
          caseId: CASE,
          metric: `${id} bundle size (loaded at start${splitting ? ': entry + static chunks' : ''})`,
          unit: 'KB',
          samples: [size / 1024],
        },
        {
          caseId: CASE,
          metric: `${id} load bundle`,
          unit: 'ms',
          samples: bundled,
          target: { op: '<=', value: TARGET_MS },
        },
        { caseId: CASE, metric: `${id} load from node_modules`, unit: 'ms', samples: fromModules },
        {
          caseId: CASE,
          metric: `${id} floor (${clients} only${splitting ? ', split' : ''}) entry size`,
          unit: 'KB',
          samples: [floorSize / 1024],
        },
        { caseId: CASE, metric: `${id} floor load`, unit: 'ms', samples: floor },
        {
          caseId: CASE,
          metric: `${id} load bundle / floor`,
          unit: 'x',
          // Each run against the floor measured right after it.
          samples: bundled.map((ms, i) => ms / (floor[i] ?? Number.NaN)),
          target: { op: '<=', value: FLOOR_RATIO_TARGET },
        },
        { caseId: CASE, metric: `${id} load bundle, CPU time`, unit: 'ms', samples: bundledCpu },
        { caseId: CASE, metric: `${id} floor load, CPU time`, unit: 'ms', samples: floorCpu },
        {
          caseId: CASE,
          metric: `${id} load bundle / floor, CPU time`,
          unit: 'x',
          samples: bundledCpu.map((ms, i) => ms / (floorCpu[i] ?? Number.NaN)),
        },
      );
      details[id] = {
        bundleBytes: size,
        splitting,
        bundledMs: bundled,
        bundledCpuMs: bundledCpu,
        nodeModulesMs: fromModules,
        floor: {
          clients: sdkClients.map(({ name }) => name),
          bytes: floorSize,
          ms: floor,
          cpuMs: floorCpu,
        },
      };
      mode.progress(`  ${id} done`);
    }
  });
  return { figures, details };
}
