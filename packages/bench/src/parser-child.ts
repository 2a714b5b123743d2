import { runChild } from './cases/parser-child.js';

/**
 * Entry of the parser measurements' child processes: a bundle of the parser and
 * the SDK only, so the peak RSS it reports is the work's, not the harness's.
 */
runChild(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(
      `${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exit(1);
  },
);
