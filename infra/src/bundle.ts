import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import * as pulumi from '@pulumi/pulumi';
import { BundleMissingError, StaleBundleError } from './errors.js';

/** The handler bundle esbuild writes (`packages/<fn>/dist/index.mjs`): the file Lambda runs. */
export const BUNDLE_FILE = 'index.mjs';
/**
 * The chunks the bundle imports (`dist/chunks/*.mjs`, esbuild code splitting): the SDK's and
 * the format libraries' modules that load only when used, so they cost no cold start.
 */
export const CHUNKS_DIR = 'chunks';
/** Its source map, deployed only when asked for: 4-5 times the bundle's size, read only on errors. */
export const SOURCE_MAP_FILE = `${BUNDLE_FILE}.map`;
/** The command that rebuilds every bundle, quoted in the errors. */
export const BUILD_COMMAND = 'pnpm build';
/**
 * When only a source's mtime changed (a checkout or stash that rewrote it unchanged),
 * turbo takes the build from its cache and leaves the bundle's mtime as it was; this
 * bypasses the cache.
 */
export const FORCED_BUILD_COMMAND = `${BUILD_COMMAND} --force`;

export interface BundleLocation {
  /** The package's esbuild output directory. */
  readonly distDir: string;
  /**
   * Directories whose files go into the bundle: the package's `src/` and the
   * contract package's, which esbuild inlines.
   */
  readonly sourceDirs: readonly string[];
}

/** The most recently modified file under `dir`, or undefined when it holds none. */
function newestFile(dir: string): { file: string; mtimeMs: number } | undefined {
  if (!existsSync(dir)) return undefined;
  let newest: { file: string; mtimeMs: number } | undefined;
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const file = path.join(entry.parentPath, entry.name);
    const { mtimeMs } = statSync(file);
    if (newest === undefined || mtimeMs > newest.mtimeMs) newest = { file, mtimeMs };
  }
  return newest;
}

/**
 * Refuses to deploy a bundle built before its sources last changed: `pulumi up`
 * would otherwise ship yesterday's code without a word. Throws BundleMissingError
 * or StaleBundleError, both naming the build command.
 */
export function assertFreshBundle(location: BundleLocation): void {
  const bundle = path.join(location.distDir, BUNDLE_FILE);
  if (!existsSync(bundle)) throw new BundleMissingError(bundle, BUILD_COMMAND);
  const builtAt = statSync(bundle).mtimeMs;
  for (const dir of location.sourceDirs) {
    const newest = newestFile(dir);
    if (newest !== undefined && newest.mtimeMs > builtAt) {
      throw new StaleBundleError(bundle, newest.file, BUILD_COMMAND, FORCED_BUILD_COMMAND);
    }
  }
}

export interface CodeArchiveOptions {
  /** Also ship `index.mjs.map`, for stack traces that name source lines. */
  readonly sourceMaps: boolean;
}

/** esbuild's metafile beside the bundle (`--metafile=dist/meta.json`): what the last build wrote. */
export const METAFILE = 'meta.json';

/**
 * The chunk names the last build wrote under `dist/chunks/`, read from its metafile; undefined
 * without one (or one that lists no outputs). The folder itself can hold chunks of earlier builds (esbuild never removes a
 * file, and turbo restores a cached build on top of what is there): those are not shipped.
 */
function builtChunks(distDir: string): Set<string> | undefined {
  const metafile = path.join(distDir, METAFILE);
  if (!existsSync(metafile)) return undefined;
  const meta = JSON.parse(readFileSync(metafile, 'utf8')) as { outputs?: Record<string, unknown> };
  if (meta.outputs === undefined) return undefined;
  const names = new Set<string>();
  for (const output of Object.keys(meta.outputs)) {
    const parts = output.split('/');
    if (parts.at(-2) === CHUNKS_DIR) names.add(parts.at(-1) ?? '');
  }
  return names;
}

/** The chunk files under `dist/chunks/` (their source maps too when asked for), relative to dist. */
function chunkFiles(distDir: string, sourceMaps: boolean): string[] {
  const dir = path.join(distDir, CHUNKS_DIR);
  if (!existsSync(dir)) return [];
  const built = builtChunks(distDir);
  return readdirSync(dir)
    .filter((name) => name.endsWith('.mjs') || (sourceMaps && name.endsWith('.mjs.map')))
    .filter((name) => built === undefined || built.has(name))
    .sort()
    .map((name) => `${CHUNKS_DIR}/${name}`);
}

/**
 * The function's code: the handler bundle and the chunks it imports (not esbuild's
 * meta.json, which is build metadata), plus the source maps when asked for.
 */
export function codeArchive(distDir: string, options: CodeArchiveOptions): pulumi.asset.Archive {
  const files = [
    BUNDLE_FILE,
    ...(options.sourceMaps ? [SOURCE_MAP_FILE] : []),
    ...chunkFiles(distDir, options.sourceMaps),
  ];
  for (const file of files) {
    const full = path.join(distDir, file);
    if (!existsSync(full)) throw new BundleMissingError(full, BUILD_COMMAND);
  }
  return new pulumi.asset.AssetArchive(
    Object.fromEntries(
      files.map((file) => [file, new pulumi.asset.FileAsset(path.join(distDir, file))]),
    ),
  );
}
