import {
  isPackKey,
  isRawKey,
  PREFIXES,
  parseManifestText,
  type Source,
  topology,
} from '@fanout/shared';
import { UsageError } from '../errors.js';
import { manifestDefinitions, reparseObjects } from '../reparse.js';
import { parseCommandArgs } from './args.js';
import { openWorkTarget, TARGET_OPTIONS } from './cloud-target.js';
import { EXIT, PROBLEMS_SHOWN } from './problems.js';
import type { Io } from './run.js';

/** The valid entries of the stored source manifest (none when there is no manifest). */
function currentSources(text: string | undefined, bucket: string): Source[] {
  if (text === undefined) return [];
  try {
    return parseManifestText(text).sources;
  } catch (error) {
    throw new UsageError(
      `the source manifest s3://${bucket}/${topology.manifestKey} is not valid: ${(error as Error).message}`,
      'fix it, or pass --stored-options to parse with the definitions stored with the data',
    );
  }
}

/**
 * `fanout reparse <prefix>`: run the parser again over existing raw objects (packs and
 * single responses; a backfill) and wait for each one's outcome. Each source's pages are
 * parsed with its definition in the current source manifest (format and options: a
 * fixed `recordsPath` reaches the data already collected, with no fetch), or with
 * `--stored-options` as they were stored. Exits 0 when every object parsed in full, 1
 * naming the objects that were quarantined (whole or some of their pages) or
 * dead-lettered, 3 when some still had no outcome when the wait ended.
 */
export async function reparseCommand(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parseCommandArgs(
    'reparse',
    argv,
    { ...TARGET_OPTIONS, 'stored-options': { type: 'boolean' } },
    1,
  );
  const prefix = positionals[0];
  if (!prefix) {
    throw new UsageError(
      'fanout reparse: which raw objects?',
      `give a prefix under ${PREFIXES.raw}, e.g. fanout reparse raw/packs/dt=2026-07-01/`,
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
    const listed = (await target.reader.list(prefix)).filter((item) => isRawKey(item.key));
    // A pack holding a hop's record alone (no pages) has nothing to parse.
    const headerOnly = new Set<string>();
    for (const item of listed) {
      if (isPackKey(item.key) && (await target.reader.packEntries(item.key)) === 0) {
        headerOnly.add(item.key);
      }
    }
    const objects = listed.filter((item) => !headerOnly.has(item.key));
    const cloud = target.cloud;
    const manifestText = values['stored-options']
      ? undefined
      : await target.reader.getText(topology.manifestKey);
    const sources = new Map(
      currentSources(manifestText, target.bucket).map((source) => [source.id, source]),
    );
    const report = await reparseObjects(objects, {
      reader: target.reader,
      bucket: target.bucket,
      invoke: target.invoke,
      parser: target.functions.parser,
      ...(sources.size > 0 ? { definitionsFor: manifestDefinitions(sources, target.reader) } : {}),
      ...(cloud
        ? { settle: () => target.settle(), deadLetters: () => cloud.lambda.deadLetters() }
        : {}),
    });
    const parts = [
      `${report.parsed} parsed`,
      ...(report.someQuarantined > 0 ? [`${report.someQuarantined} with pages quarantined`] : []),
      `${report.quarantined} quarantined`,
      `${report.deadLettered} dead-lettered`,
      ...(report.noOutcome > 0 ? [`${report.noOutcome} without an outcome`] : []),
    ];
    io.stdout.write(
      `Sent ${objects.length} raw objects under ${prefix} to the parser ` +
        (sources.size > 0
          ? 'with the current manifest definitions '
          : 'with the definitions stored with them ') +
        'and waited for them' +
        (headerOnly.size > 0 ? ` (${headerOnly.size} packs without pages left out)` : '') +
        ': ' +
        `${parts.join(', ')} (pages: ${report.pagesParsed} parsed, ${report.pagesQuarantined} quarantined)\n`,
    );
    if (report.failures.length === 0) return EXIT.clean;
    io.stdout.write(`Failed (${report.failures.length}):\n`);
    for (const failure of report.failures) {
      io.stdout.write(`  ${failure.status.padEnd(16)} ${failure.key}: ${failure.reason ?? ''}\n`);
    }
    const named = report.failures.slice(0, PROBLEMS_SHOWN).map((failure) => failure.key);
    const more = report.failures.length - named.length;
    io.stderr.write(
      `fanout: reparse: ${report.failures.length} of ${objects.length} objects did not parse in full: ` +
        `${named.join(', ')}${more > 0 ? ` and ${more} more` : ''}\n` +
        (report.deadLettered > 0 && target.cloud
          ? `  dead letters are under ${target.cloud.deadLetterDir}; the function log under ${target.cloud.home}/logs\n`
          : report.quarantined + report.someQuarantined > 0
            ? `  reports under s3://${target.bucket}/${PREFIXES.quarantine}\n`
            : ''),
    );
    return report.noOutcome > 0 ? EXIT.incomplete : EXIT.problems;
  } finally {
    await target.close();
  }
}
