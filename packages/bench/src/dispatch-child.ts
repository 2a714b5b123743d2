import { invokeLoop, managerRun, partRun } from './cases/dispatch-work.js';

/** Line prefix of the result on the child's stdout. */
const RESULT_PREFIX = 'RESULT ';

/**
 * Entry of the dispatch case's child processes (`dispatch-child.mjs manager`,
 * `dispatch-child.mjs part <event file>` or
 * `dispatch-child.mjs floor <function> <count> <concurrency> <payloadBytes>`): the caller of
 * the local Invoke endpoint runs in another process than the endpoint, as in AWS.
 */
async function main(args: string[]): Promise<number> {
  const [work, target, count, concurrency, payloadBytes] = args;
  const result =
    work === 'manager'
      ? await managerRun()
      : work === 'part' && target
        ? await partRun(target)
        : work === 'floor' && target
          ? await invokeLoop(target, Number(count), Number(concurrency), Number(payloadBytes))
          : undefined;
  if (result === undefined) {
    process.stderr.write(`bad child arguments: ${JSON.stringify(args)}\n`);
    return 2;
  }
  process.stdout.write(`${RESULT_PREFIX}${JSON.stringify(result)}\n`);
  return 0;
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
