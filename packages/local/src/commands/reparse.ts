import { isRawKey, PREFIXES } from '@fanout/shared';
import { UsageError } from '../errors.js';
import { reparseEvent } from '../replay.js';
import { parseCommandArgs } from './args.js';
import { openWorkTarget, TARGET_OPTIONS } from './cloud-target.js';
import type { Io } from './run.js';

/** `fanout reparse <prefix>`: run the parser again over existing raw objects (a backfill). */
export async function reparseCommand(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parseCommandArgs('reparse', argv, TARGET_OPTIONS, 1);
  const prefix = positionals[0];
  if (!prefix) {
    throw new UsageError(
      'fanout reparse: which raw objects?',
      `give a prefix under ${PREFIXES.raw}, e.g. fanout reparse raw/source=news/`,
    );
  }
  if (!prefix.startsWith(PREFIXES.raw)) {
    throw new UsageError(
      `reparse: ${JSON.stringify(prefix)} is not under ${PREFIXES.raw}`,
      `only raw objects are parsed; try ${PREFIXES.raw}${prefix}`,
    );
  }
  const target = await openWorkTarget(values);
  try {
    const objects = (await target.reader.list(prefix)).filter((item) => isRawKey(item.key));
    for (const object of objects) {
      await target.invoke(target.functions.parser, reparseEvent(target.bucket, object.key));
    }
    await target.settle();
    io.stdout.write(
      `Sent ${objects.length} raw objects under ${prefix} to the parser${target.cloud ? ' and waited for them' : ''}\n`,
    );
    return 0;
  } finally {
    await target.close();
  }
}
