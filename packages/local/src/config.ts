import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LOCAL_S3_CREDENTIALS } from '@fanout/local-s3';
import type { FunctionId } from '@fanout/shared';

/** packages/local, whether running from src/ (tests) or dist/ (the CLI bundle). */
const PACKAGE_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const REPO_ROOT = resolve(PACKAGE_DIR, '..', '..');

/** Where the local cloud keeps its data: `FANOUT_HOME`, else `.fanout/` at the repo root. */
export function fanoutHome(env: NodeJS.ProcessEnv = process.env): string {
  const configured = env.FANOUT_HOME;
  return configured ? resolve(configured) : join(REPO_ROOT, '.fanout');
}

/** The built esbuild bundle of a function: the same file that is deployed. */
export function bundlePath(id: FunctionId): string {
  return join(REPO_ROOT, 'packages', id, 'dist', 'index.mjs');
}

export const LOCAL_BUCKET = 'fanout-local';
export const LOCAL_REGION = 'us-east-1';
export const LOCAL_ACCOUNT = '000000000000';
/** The local S3 checks SigV4 signatures made with these; any SDK or the AWS CLI can use them. */
export const LOCAL_CREDENTIALS = LOCAL_S3_CREDENTIALS;
