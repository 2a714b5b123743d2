import { readFile, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { isValidBucketName } from './key-paths.js';
import { isMissing } from './locks.js';
import {
  commitRecordOf,
  entriesOf,
  MD5_SUFFIX,
  METADATA_SUFFIX,
  OBJECT_SUFFIX,
  PARTIAL_SUFFIX,
  removeEmptyDirectories,
} from './object-store.js';

/** What `recoverStore` found and did. Paths are relative to the store's folder. */
export interface RecoveryReport {
  /** Writes cut between their two renames, finished from their complete object partial. */
  readonly completed: string[];
  /** Objects or metadata without their other half, or with unreadable metadata, removed. */
  readonly removedTorn: string[];
  /** Temporary files of writes that never committed, removed. */
  readonly removedPartials: string[];
}

interface Entry {
  object?: string;
  metadata?: string;
  md5?: string;
}

const SUFFIXES: readonly [keyof Entry, string][] = [
  ['object', OBJECT_SUFFIX],
  ['metadata', METADATA_SUFFIX],
  ['md5', MD5_SUFFIX],
];

/**
 * Makes a store folder left by a killed process consistent before it is served:
 * every object then has its metadata and every metadata its object, whole, and
 * no temporary file remains (see LocalObjectStore for the write order).
 */
export async function recoverStore(root: string): Promise<RecoveryReport> {
  const report: RecoveryReport = { completed: [], removedTorn: [], removedPartials: [] };
  for (const bucket of await entriesOf(root)) {
    // Only bucket folders: the multipart uploads' folder (`.multipart`) is not one.
    if (!bucket.isDirectory() || !isValidBucketName(bucket.name)) continue;
    const bucketPath = join(root, bucket.name);
    await recoverFolder(bucketPath, bucketPath, root, report);
  }
  return report;
}

async function recoverFolder(
  dir: string,
  bucketPath: string,
  root: string,
  report: RecoveryReport,
): Promise<void> {
  const entries = await entriesOf(dir);
  const groups = new Map<string, Entry>();
  const partials = new Set<string>();
  for (const entry of entries) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      await recoverFolder(path, bucketPath, root, report);
      continue;
    }
    if (entry.name.endsWith(PARTIAL_SUFFIX)) {
      partials.add(path);
      continue;
    }
    for (const [part, suffix] of SUFFIXES) {
      if (!entry.name.endsWith(suffix)) continue;
      const base = path.slice(0, -suffix.length);
      groups.set(base, { ...groups.get(base), [part]: path });
      break;
    }
  }

  const relativeTo = (path: string) => path.slice(root.length + 1);
  for (const [base, entry] of groups) {
    const objectPath = `${base}${OBJECT_SUFFIX}`;
    let object = entry.object !== undefined;
    let metadataOk = false;
    let recordedSize: number | undefined;
    if (entry.metadata !== undefined) {
      const record = await readRecord(entry.metadata);
      if (record !== 'torn') {
        metadataOk = true;
        const commit = record === undefined ? undefined : record.commit;
        recordedSize = record?.size;
        const partial = `${objectPath}.${commit}${PARTIAL_SUFFIX}`;
        if (commit !== undefined && partials.has(partial)) {
          // The metadata of this write was renamed into place; its object partial is complete.
          await rename(partial, objectPath);
          partials.delete(partial);
          report.completed.push(relativeTo(objectPath));
          object = true;
        }
      }
    }
    const sizeMatches =
      recordedSize === undefined || !object || (await stat(objectPath)).size === recordedSize;
    if (object && metadataOk && sizeMatches) continue;
    for (const path of [objectPath, entry.metadata, entry.md5]) {
      if (path === undefined) continue;
      try {
        await rm(path);
        report.removedTorn.push(relativeTo(path));
      } catch (error) {
        if (!isMissing(error)) throw error;
      }
    }
  }
  for (const partial of partials) {
    await rm(partial, { force: true });
    report.removedPartials.push(relativeTo(partial));
  }
  if (dir !== bucketPath) await removeEmptyDirectories(dir, bucketPath);
}

/** The commit record of a metadata file; undefined for s3rver's own (no record); 'torn' when unreadable. */
async function readRecord(
  metadataPath: string,
): Promise<ReturnType<typeof commitRecordOf> | 'torn'> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(metadataPath, 'utf8'));
  } catch {
    return 'torn';
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return 'torn';
  return commitRecordOf(parsed);
}
