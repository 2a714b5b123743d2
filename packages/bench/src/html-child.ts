import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { htmlReaderThroughput, parserHtmlThroughput } from './cases/html-libraries-work.js';
import { childMain } from './child.js';

/**
 * Entry of the HTML comparison's child processes (`html-child.mjs throughput <library> <dir>`,
 * `html-child.mjs parser <dir>`): each measurement in a fresh process, so its peak RSS is its own.
 */
childMain(async ([work, first, second]) => {
  const pages = async (dir: string) =>
    (await readdir(dir))
      .filter((name) => name.endsWith('.html'))
      .sort()
      .map((name) => join(dir, name));
  if (work === 'throughput' && first && second)
    return htmlReaderThroughput(first, await pages(second));
  if (work === 'parser' && first) return parserHtmlThroughput(await pages(first));
  return undefined;
});
