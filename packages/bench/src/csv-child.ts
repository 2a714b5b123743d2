import { conformance, readerThroughput } from './cases/csv-libraries-work.js';
import { childMain } from './child.js';

/**
 * Entry of the CSV library comparison's child processes (`csv-child.mjs throughput <library>
 * <file>` or `csv-child.mjs conformance <library>`): each measurement in a fresh process, so no
 * library runs on another's warmed-up JIT or fragmented heap.
 */
childMain(async ([work, library, file]) => {
  if (work === 'throughput' && library && file) return readerThroughput(library, file);
  if (work === 'conformance' && library) return conformance(library);
  return undefined;
});
