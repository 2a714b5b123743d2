#!/usr/bin/env node
import { existsSync } from 'node:fs';

const cli = new URL('../dist/cli.mjs', import.meta.url);
if (!existsSync(cli)) {
  process.stderr.write(
    'fanout: the CLI is not built yet\n  run: npx -y pnpm@10.34.9 build (pnpm start and pnpm fanout build first)\n',
  );
  process.exit(2);
}
// The SDK warns on every start that future versions will need Node 22; the CLI supports 20.
const emitWarning = process.emitWarning.bind(process);
process.emitWarning = (warning, ...rest) => {
  const text = typeof warning === 'string' ? warning : warning?.message;
  if (text?.startsWith('NodeVersionSupportWarning')) return;
  emitWarning(warning, ...rest);
};
const { main } = await import(cli.href);
const code = await main(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr });
// Exit once stdout is flushed: a worker or socket left behind must not hold the CLI open.
process.stdout.write('', () => process.exit(code));
