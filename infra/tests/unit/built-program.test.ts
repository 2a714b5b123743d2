import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  installMocks,
  ofType,
  onlyOfType,
  type RecordedResource,
  registrationsSettled,
} from '../helpers/pulumi-mocks.js';

// Pulumi runs the bundle named by `main` in Pulumi.yaml, not the TypeScript source.
const PROJECT_DIR = path.resolve(__dirname, '..', '..');
const BUILT_PROGRAM = path.join(PROJECT_DIR, 'dist', 'index.js');

let resources: RecordedResource[];

beforeAll(async () => {
  expect(existsSync(BUILT_PROGRAM), `${BUILT_PROGRAM} is missing: run pnpm build`).toBe(true);
  resources = await installMocks({}, 'built');
  createRequire(__filename)(BUILT_PROGRAM);
  await registrationsSettled();
});

describe('the built program', () => {
  it('registers the whole pipeline', () => {
    expect(ofType(resources, 'aws:lambda/function:Function')).toHaveLength(3);
    expect(ofType(resources, 'aws:s3/bucketNotification:BucketNotification')).toHaveLength(1);
    expect(ofType(resources, 'aws:scheduler/schedule:Schedule')).toHaveLength(1);
  });

  it('resolves code and manifest paths from its own location in dist/', async () => {
    const repoRoot = path.resolve(PROJECT_DIR, '..');
    for (const fn of ofType(resources, 'aws:lambda/function:Function')) {
      const code = fn.inputs.code as { assets: Promise<Record<string, { path: Promise<string> }>> };
      const file = await (await code.assets)['index.mjs']?.path;
      const dir = path.dirname(file ?? '');
      expect(path.dirname(path.dirname(dir))).toBe(path.join(repoRoot, 'packages'));
      expect(path.basename(dir)).toBe('dist');
    }
    const manifest = onlyOfType(resources, 'aws:s3/bucketObjectv2:BucketObjectv2');
    expect(await (manifest.inputs.source as { path: Promise<string> }).path).toBe(
      path.join(PROJECT_DIR, 'sources.json'),
    );
  });
});
