import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import * as contract from '../../src/index.js';

/**
 * Every function bundle imports the contract, so its schemas must cost nothing at start-up:
 * written with zod/mini (the full zod is not in any bundle) and each built on first use
 * (see the README, "Schemas cost a function nothing at start-up"). A schema written the full
 * zod's way, or built when its module loads, fails here rather than in a cold start figure.
 */
const SRC = join(import.meta.dirname, '..', '..', 'src');

/** What the contract's sources may import of zod: mini, and the English locale validate.ts loads. */
const ALLOWED_ZOD_IMPORTS = new Set(['zod/mini', 'zod/v4/locales/en.js']);

async function sources(): Promise<{ file: string; text: string }[]> {
  const files = (await readdir(SRC)).filter((file) => file.endsWith('.ts'));
  return Promise.all(
    files.map(async (file) => ({ file, text: await readFile(join(SRC, file), 'utf8') })),
  );
}

describe('the contract schemas', () => {
  it('import zod/mini, never the full zod', async () => {
    const imports: string[] = [];
    for (const { file, text } of await sources()) {
      for (const match of text.matchAll(/from\s+'(zod[^']*)'/g)) {
        if (!ALLOWED_ZOD_IMPORTS.has(match[1] ?? '')) imports.push(`${file}: ${match[1]}`);
      }
    }
    expect(imports).toEqual([]);
  });

  it('are each built on first use (z.lazy), but for the ids: one string and its pattern', () => {
    // A schema-building function (`recordFieldSchema()`) builds nothing until called. The ids
    // (SourceIdSchema, ...) are plain strings with a pattern, cheap to build, and stay eager
    // because they are the keys of z.record schemas.
    const schemas = Object.entries(contract).filter(
      ([name, value]) => /Schema$/.test(name) && typeof value !== 'function',
    );
    expect(schemas.length).toBeGreaterThan(30);
    const builtAtImport = schemas
      .map(([name, value]) => [name, (value as { _zod?: { def?: { type?: string } } })._zod?.def])
      .filter(
        ([, def]) => typeof def !== 'object' || (def.type !== 'lazy' && def.type !== 'string'),
      )
      .map(([name]) => name);
    expect(builtAtImport).toEqual([]);
  });

  it('are marked pure where a module declares them, so a bundle drops those it never uses', async () => {
    // `z.lazy(...)` and `buildOnce(...)` are calls: without the annotation esbuild keeps every
    // schema of a module a function imports anything from, and all the schemas it refers to.
    const unmarked: string[] = [];
    for (const { file, text } of await sources()) {
      for (const match of text.matchAll(/^(?:export )?const (\w+)[^=\n]* = (.*)$/gm)) {
        const value = match[2] ?? '';
        if (/^(z\.lazy|buildOnce)\(/.test(value)) unmarked.push(`${file}: ${match[1]}`);
      }
    }
    expect(unmarked).toEqual([]);
    const marked = (await sources()).flatMap(({ text }) => [
      ...text.matchAll(/= \/\* @__PURE__ \*\/ (z\.lazy|buildOnce)\(/g),
    ]);
    expect(marked.length).toBeGreaterThan(50);
  });
});
