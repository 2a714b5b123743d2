import { type ChildProcess, spawn } from 'node:child_process';
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import {
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  type S3Client,
} from '@aws-sdk/client-s3';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLocalS3Client } from '../../src/index.js';
import { startQuietS3, tempHome } from '../helpers/server.js';
import { copyKey, ownedKeys, sha256, WRITERS } from './crash-writer.js';

/**
 * kill -9 of a process that is writing to the local S3, at several moments, then
 * a restart on the same folder: nothing torn may be served, no temp file may stay,
 * and no acknowledged write may be lost.
 */
const BUCKET = 'fanout-crash';
/** Nine child starts and restarts: generous for a loaded 2-core machine. */
const CRASH_TEST_TIMEOUT_MS = 600_000;
const packageDir = fileURLToPath(new URL('../..', import.meta.url));
// Inside the package, so the bundle resolves the SDK from its node_modules.
const bundleDir = join(packageDir, 'node_modules', '.cache', 'fanout-crash-writer');
const writerBundle = join(bundleDir, 'writer.mjs');
let home: string;

beforeAll(async () => {
  home = await tempHome('crash');
  await build({
    entryPoints: [fileURLToPath(new URL('./crash-writer.ts', import.meta.url))],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    external: ['@aws-sdk/*'],
    // CommonJS dependencies (the CRC32C library) call require() for Node built-ins.
    banner: {
      js: "import{createRequire as __cr}from'node:module';const require=__cr(import.meta.url);",
    },
    outfile: writerBundle,
    logLevel: 'error',
  });
});

afterAll(async () => {
  await rm(home, { recursive: true, force: true });
  await rm(bundleDir, { recursive: true, force: true });
});

interface Round {
  /** Highest acknowledged seq per key. */
  readonly acked: Map<string, number>;
  readonly exitSignal: NodeJS.Signals | null;
}

/** When to kill: after so many acknowledged writes, or as soon as a write's temp file is on disk. */
type KillMoment = { readonly acks: number } | { readonly midWrite: true };

async function partialOnDisk(): Promise<boolean> {
  try {
    return (await filesNamed(join(home, 's3'), /\.partial$/)).length > 0;
  } catch {
    return false; // a folder vanished while being read
  }
}

/** Starts the writer, waits for the moment, then kills it with SIGKILL. */
async function writeThenKill(moment: KillMoment, firstSeq: number): Promise<Round> {
  const acks = 'acks' in moment ? moment.acks : Number.POSITIVE_INFINITY;
  const child: ChildProcess = spawn(
    process.execPath,
    [writerBundle, home, BUCKET, String(firstSeq)],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exited = new Promise<NodeJS.Signals | null>((resolve) =>
    child.once('exit', (_code, signal) => resolve(signal)),
  );
  const acked = new Map<string, number>();
  let count = 0;
  let ready = false;
  const lines = createInterface({ input: child.stdout ?? process.stdin });
  await new Promise<void>((resolve, reject) => {
    const kill = () => {
      child.kill('SIGKILL');
      resolve();
    };
    lines.on('line', (line) => {
      if (line === 'ready') {
        ready = true;
        if (acks === 0) kill();
        if ('midWrite' in moment) {
          const poll = async () => {
            const running = () => child.exitCode === null && child.signalCode === null;
            while (running() && !(await partialOnDisk())) {
              await new Promise((r) => setTimeout(r, 1));
            }
            if (running()) kill();
          };
          void poll();
        }
        return;
      }
      const match = /^ack (".*") (\d+)$/.exec(line);
      if (!match?.[1] || !match[2]) return;
      const key = JSON.parse(match[1]) as string;
      acked.set(key, Math.max(acked.get(key) ?? 0, Number(match[2])));
      count += 1;
      if (count === acks) kill();
    });
    child.once('exit', () => {
      if (!ready || count < acks) reject(new Error(`writer exited early: ${stderr}`));
    });
  });
  lines.close();
  return { acked, exitSignal: await exited };
}

async function listAll(client: S3Client): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await client.send(
      new ListObjectsV2Command({ Bucket: BUCKET, MaxKeys: 7, ContinuationToken: token }),
    );
    for (const item of page.Contents ?? []) if (item.Key) keys.push(item.Key);
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return keys;
}

async function filesNamed(dir: string, pattern: RegExp): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((entry) => entry.isFile() && pattern.test(entry.name)).map((e) => e.name);
}

/** Restarts on the folder and reads everything back: the stored seq of each key, and what the start repaired. */
async function restartAndCheck(): Promise<{ stored: Map<string, number>; repaired: number }> {
  const s3 = await startQuietS3(home, BUCKET);
  const client = createLocalS3Client(s3.endpoint);
  const stored = new Map<string, number>();
  // The writer's own restart repaired the previous round; this one repairs the kill just made.
  const { completed, removedTorn, removedPartials } = s3.recovery;
  const repaired = completed.length + removedTorn.length + removedPartials.length;
  try {
    expect(await filesNamed(join(home, 's3'), /\.partial$/)).toEqual([]);
    const keys = await listAll(client);
    for (const prefix of ['crash/', 'crash/w0/', 'crash/copies/']) {
      const listed = await client.send(
        new ListObjectsV2Command({ Bucket: BUCKET, Prefix: prefix }),
      );
      expect(listed.$metadata.httpStatusCode).toBe(200);
    }
    for (const key of keys) {
      const head = await client.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key }));
      const got = await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
      const body = Buffer.from((await got.Body?.transformToByteArray()) ?? []);
      const newline = body.indexOf(10);
      const header = JSON.parse(body.subarray(0, newline).toString()) as {
        key: string;
        seq: number;
        size: number;
      };
      // Whole: the length the header announces, the hash the metadata recorded.
      expect(body.length - newline - 1).toBe(header.size);
      expect(head.ContentLength).toBe(body.length);
      expect(head.Metadata?.sha256).toBe(sha256(body));
      expect(head.Metadata?.seq).toBe(String(header.seq));
      expect(head.ContentType).toBe('application/octet-stream');
      if (!key.startsWith('crash/copies/')) expect(header.key).toBe(key);
      stored.set(key, header.seq);
    }
  } finally {
    client.destroy();
    await s3.stop();
  }
  return { stored, repaired };
}

describe('local S3 killed with SIGKILL while writing', () => {
  it(
    'restarts on the same folder with every object whole, no temp file, no acknowledged write lost',
    async () => {
      // Kill right after start, after a few and after many acknowledged writes (wherever the
      // four writers then are), and the moment a write's temp file is on disk.
      const moments: KillMoment[] = [
        { acks: 0 },
        { midWrite: true },
        { acks: 6 },
        { midWrite: true },
        { acks: 23 },
        { midWrite: true },
        { acks: 57 },
        { midWrite: true },
        { midWrite: true },
      ];
      const durable = new Map<string, number>();
      let repaired = 0;
      for (const [round, moment] of moments.entries()) {
        // Act
        const { acked, exitSignal } = await writeThenKill(moment, round * 1_000_000);
        const check = await restartAndCheck();
        const stored = check.stored;
        repaired += check.repaired;

        // Assess: killed, not exited; each owned key holds its last acknowledged write or a later one.
        expect(exitSignal).toBe('SIGKILL');
        for (const [key, seq] of acked) durable.set(key, seq);
        for (let w = 0; w < WRITERS; w += 1) {
          for (const key of ownedKeys(w)) {
            const mustHave = durable.get(key);
            if (mustHave === undefined) continue;
            expect(stored.get(key), key).toBeGreaterThanOrEqual(mustHave);
          }
        }
        if (round === moments.length - 1) {
          // The kills did land mid-write: some restart had half-written files to deal with.
          expect(repaired).toBeGreaterThan(0);
          expect(stored.size).toBeGreaterThan(WRITERS);
          expect([...stored.keys()].some((key) => key === copyKey(0) || key.includes('é'))).toBe(
            true,
          );
        }
      }
    },
    CRASH_TEST_TIMEOUT_MS,
  );
});
