import {
  DEFAULT_SOURCE_TIMEOUT_MS,
  LAMBDA_MAX_TIMEOUT_SECONDS,
  parseManifestText,
  type SourceInput,
} from '@fanout/shared';
import { generatedSourceId } from './content.js';
import { STATIC_SOURCES } from './sources.js';

export interface DemoManifestOptions {
  /** Include the generated sources; default true. */
  readonly generated?: boolean;
  /** Include the hand-written sources (API, CSV, feeds, slow, flaky, malformed); default true. */
  readonly fixed?: boolean;
  /** Per-request timeout of each entry (the slow source always gets longer than its delay). */
  readonly timeoutMs?: number;
}

export interface DemoManifest {
  readonly version: 1;
  readonly sources: SourceInput[];
}

/** Extra time the slow source's per-request timeout gets beyond its delay. */
const SLOW_TIMEOUT_MARGIN_MS = 5_000;

/**
 * The manifest (as `parseManifest` reads it) for a running demo server. The slow
 * source's per-request timeout outlasts its delay, so what cuts it short is the
 * collector's time budget, and the continuation path runs.
 */
export function demoManifest(
  server: { readonly baseUrl: string; readonly count: number; readonly slowDelayMs: number },
  options: DemoManifestOptions = {},
): DemoManifest {
  const timeoutMs = options.timeoutMs ?? DEFAULT_SOURCE_TIMEOUT_MS;
  const sources: SourceInput[] = [];
  if (options.fixed ?? true) {
    for (const source of STATIC_SOURCES) {
      const sourceTimeout =
        source.behaviour === 'slow'
          ? Math.min(
              Math.max(timeoutMs, server.slowDelayMs + SLOW_TIMEOUT_MARGIN_MS),
              LAMBDA_MAX_TIMEOUT_SECONDS * 1000,
            )
          : timeoutMs;
      sources.push({
        id: source.id,
        url: `${server.baseUrl}${source.path}`,
        ...source.entry,
        timeoutMs: sourceTimeout,
        allowPrivateNetwork: true,
      });
    }
  }
  if (options.generated ?? true) {
    for (let index = 0; index < server.count; index += 1) {
      sources.push({
        id: generatedSourceId(index),
        url: `${server.baseUrl}/gen/${index}.json`,
        format: 'json',
        timeoutMs,
        allowPrivateNetwork: true,
        options: { recordsPath: 'items' },
      });
    }
  }
  return { version: 1, sources };
}

const GENERATED_ID = /^gen-(\d+)$/;

/**
 * How many `/gen/<i>.json` documents a stored manifest refers to, so a demo server started
 * again (`fanout start`, `replay`, `reparse`) serves exactly the sources of the manifest
 * in the bucket. 0 for a manifest that is missing or not JSON.
 */
export function generatedCountIn(manifestText: string | undefined): number {
  if (manifestText === undefined) return 0;
  let sources: { id: string }[];
  try {
    sources = parseManifestText(manifestText).sources;
  } catch {
    return 0;
  }
  let count = 0;
  for (const source of sources) {
    const index = GENERATED_ID.exec(source.id)?.[1];
    if (index !== undefined) count = Math.max(count, Number(index) + 1);
  }
  return count;
}
