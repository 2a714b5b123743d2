import { mkdirSync, mkdtempSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { assertFreshBundle, codeArchive } from '../../src/bundle.js';
import { BundleMissingError, FanoutInfraError, StaleBundleError } from '../../src/errors.js';
import { bundleLocation } from '../../src/pipeline.js';

const HOUR_SECONDS = 3_600;
const BUILT_AT = 1_800_000_000; // seconds since the epoch

/** Writes a file and sets its modification time `offsetSeconds` from the build time. */
function fileAt(file: string, offsetSeconds: number, text = 'x'): string {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, text);
  utimesSync(file, BUILT_AT + offsetSeconds, BUILT_AT + offsetSeconds);
  return file;
}

/** A repository with one function package and the contract package, built at BUILT_AT. */
function repo(): { root: string; packageDir: string } {
  const root = mkdtempSync(path.join(tmpdir(), 'fanout-bundle-'));
  const packageDir = 'packages/collector';
  fileAt(path.join(root, packageDir, 'src', 'handler.ts'), -HOUR_SECONDS);
  fileAt(path.join(root, packageDir, 'src', 'lib', 'fetch.ts'), -HOUR_SECONDS);
  fileAt(path.join(root, 'packages', 'shared', 'src', 'keys.ts'), -HOUR_SECONDS);
  fileAt(path.join(root, packageDir, 'dist', 'index.mjs'), 0, 'export const handler = 1;');
  fileAt(path.join(root, packageDir, 'dist', 'index.mjs.map'), 0, '{}');
  fileAt(path.join(root, packageDir, 'dist', 'meta.json'), 0, '{}');
  return { root, packageDir };
}

function failure(run: () => void): FanoutInfraError {
  try {
    run();
  } catch (error) {
    if (error instanceof FanoutInfraError) return error;
    throw error;
  }
  throw new Error('did not throw');
}

describe('assertFreshBundle', () => {
  it('accepts a bundle built after every source of the package and the contract', () => {
    // Prepare
    const { root, packageDir } = repo();

    // Act + Assess
    expect(() => assertFreshBundle(bundleLocation(root, packageDir))).not.toThrow();
  });

  it('refuses a bundle older than a nested source file, naming it and the build command', () => {
    // Prepare
    const { root, packageDir } = repo();
    const edited = fileAt(path.join(root, packageDir, 'src', 'lib', 'fetch.ts'), 60);

    // Act
    const error = failure(() => assertFreshBundle(bundleLocation(root, packageDir)));

    // Assess
    expect(error).toBeInstanceOf(StaleBundleError);
    expect(error.message).toContain(edited);
    expect(error.message).toContain(path.join(root, packageDir, 'dist', 'index.mjs'));
    expect(error.message).toContain('`pnpm build`');
    expect(error.message).toContain('`pnpm build --force`');
  });

  it('refuses a bundle older than the contract package it inlines', () => {
    // Prepare
    const { root, packageDir } = repo();
    const edited = fileAt(path.join(root, 'packages', 'shared', 'src', 'topology.ts'), 1);

    // Act
    const error = failure(() => assertFreshBundle(bundleLocation(root, packageDir)));

    // Assess
    expect(error).toBeInstanceOf(StaleBundleError);
    expect(error.message).toContain(edited);
  });

  it('ignores files of other packages', () => {
    // Prepare
    const { root, packageDir } = repo();
    fileAt(path.join(root, 'packages', 'parser', 'src', 'handler.ts'), HOUR_SECONDS);

    // Act + Assess
    expect(() => assertFreshBundle(bundleLocation(root, packageDir))).not.toThrow();
  });

  it('refuses a package that was never built', () => {
    // Prepare
    const { root } = repo();
    fileAt(path.join(root, 'packages', 'manager', 'src', 'handler.ts'), -HOUR_SECONDS);

    // Act
    const error = failure(() => assertFreshBundle(bundleLocation(root, 'packages/manager')));

    // Assess
    expect(error).toBeInstanceOf(BundleMissingError);
    expect(error.message).toContain(path.join(root, 'packages', 'manager', 'dist', 'index.mjs'));
    expect(error.message).toContain('`pnpm build`');
  });
});

describe('codeArchive', () => {
  async function archived(distDir: string, sourceMaps: boolean): Promise<string[]> {
    const archive = codeArchive(distDir, { sourceMaps }) as unknown as {
      assets: Promise<Record<string, { path: Promise<string> }>>;
    };
    const assets = await archive.assets;
    return Promise.all(
      Object.entries(assets).map(async ([name, asset]) => `${name}=${await asset.path}`),
    );
  }

  it('holds the handler bundle alone, not meta.json or the source map', async () => {
    // Prepare
    const { root, packageDir } = repo();
    const dist = path.join(root, packageDir, 'dist');

    // Act
    const files = await archived(dist, false);

    // Assess
    expect(files).toEqual([`index.mjs=${path.join(dist, 'index.mjs')}`]);
  });

  it('adds the source map when asked for', async () => {
    // Prepare
    const { root, packageDir } = repo();
    const dist = path.join(root, packageDir, 'dist');

    // Act
    const files = await archived(dist, true);

    // Assess
    expect(files.sort()).toEqual([
      `index.mjs.map=${path.join(dist, 'index.mjs.map')}`,
      `index.mjs=${path.join(dist, 'index.mjs')}`,
    ]);
  });

  it('ships the chunks the bundle imports, with their maps only when asked for', async () => {
    // Prepare
    const { root, packageDir } = repo();
    const dist = path.join(root, packageDir, 'dist');
    fileAt(path.join(dist, 'chunks', 'html-AB12CD34.mjs'), 0);
    fileAt(path.join(dist, 'chunks', 'html-AB12CD34.mjs.map'), 0);

    // Act
    const plain = await archived(dist, false);
    const withMaps = await archived(dist, true);

    // Assess
    const chunk = path.join(dist, 'chunks', 'html-AB12CD34.mjs');
    expect(plain.sort()).toEqual([
      `chunks/html-AB12CD34.mjs=${chunk}`,
      `index.mjs=${path.join(dist, 'index.mjs')}`,
    ]);
    expect(withMaps).toContain(`chunks/html-AB12CD34.mjs.map=${chunk}.map`);
  });

  it('ships only the chunks the last build wrote (its metafile), not older ones left in the folder', async () => {
    // Prepare
    const { root, packageDir } = repo();
    const dist = path.join(root, packageDir, 'dist');
    fileAt(path.join(dist, 'chunks', 'chunk-NEW12345.mjs'), 0);
    fileAt(path.join(dist, 'chunks', 'chunk-NEW12345.mjs.map'), 0);
    fileAt(path.join(dist, 'chunks', 'chunk-OLD12345.mjs'), 0);
    fileAt(path.join(dist, 'chunks', 'chunk-OLD12345.mjs.map'), 0);
    writeFileSync(
      path.join(dist, 'meta.json'),
      JSON.stringify({
        inputs: {},
        outputs: {
          'dist/index.mjs': {},
          'dist/index.mjs.map': {},
          'dist/chunks/chunk-NEW12345.mjs': {},
          'dist/chunks/chunk-NEW12345.mjs.map': {},
        },
      }),
    );

    // Act
    const files = await archived(dist, true);

    // Assess
    expect(files.map((file) => file.split('=')[0]).sort()).toEqual([
      'chunks/chunk-NEW12345.mjs',
      'chunks/chunk-NEW12345.mjs.map',
      'index.mjs',
      'index.mjs.map',
    ]);
  });

  it('refuses to ship a source map that was not built', () => {
    // Prepare
    const dist = path.join(mkdtempSync(path.join(tmpdir(), 'fanout-bundle-')), 'dist');
    fileAt(path.join(dist, 'index.mjs'), 0);

    // Act
    const error = failure(() => codeArchive(dist, { sourceMaps: true }));

    // Assess
    expect(error).toBeInstanceOf(BundleMissingError);
    expect(error.message).toContain('index.mjs.map');
  });
});
