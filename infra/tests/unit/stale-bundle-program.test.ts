import { mkdirSync, mkdtempSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { FUNCTION_IDS } from '@fanout/shared';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  installMocks,
  type RecordedResource,
  registrationsSettled,
} from '../helpers/pulumi-mocks.js';

const PROJECT_DIR = path.resolve(__dirname, '..', '..');
const BUILT_AT = 1_800_000_000;

function fileAt(file: string, secondsAfterBuild: number): void {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, 'x');
  utimesSync(file, BUILT_AT + secondsAfterBuild, BUILT_AT + secondsAfterBuild);
}

/** A repository whose collector source changed after its bundle was built. */
function repoWithStaleCollector(): string {
  const root = mkdtempSync(path.join(tmpdir(), 'fanout-stale-'));
  fileAt(path.join(root, 'packages', 'shared', 'src', 'index.ts'), -60);
  for (const id of FUNCTION_IDS) {
    fileAt(path.join(root, 'packages', id, 'src', 'handler.ts'), -60);
    fileAt(path.join(root, 'packages', id, 'dist', 'index.mjs'), 0);
  }
  fileAt(path.join(root, 'packages', 'collector', 'src', 'handler.ts'), 30);
  return root;
}

let resources: RecordedResource[];
let thrown: unknown;

beforeAll(async () => {
  // Prepare
  resources = await installMocks({}, 'stale');
  const { FanoutPipeline } = await import('../../src/pipeline.js');
  const { configReaderFromRecord, loadStackConfig } = await import('../../src/config.js');
  const config = loadStackConfig(configReaderFromRecord({}), { projectDir: PROJECT_DIR });

  // Act
  try {
    new FanoutPipeline('fanout', { config, repoRoot: repoWithStaleCollector(), stack: 'stale' });
  } catch (error) {
    thrown = error;
  }
  await registrationsSettled();
});

describe('a program with a stale bundle', () => {
  it('stops with the rebuild command', async () => {
    const { StaleBundleError } = await import('../../src/errors.js');
    expect(thrown).toBeInstanceOf(StaleBundleError);
    expect(String(thrown)).toContain(path.join('packages', 'collector', 'src', 'handler.ts'));
    expect(String(thrown)).toContain('pnpm build');
  });

  it('registers no cloud resource before stopping', () => {
    expect(resources.filter((resource) => resource.type.startsWith('aws:'))).toEqual([]);
  });
});
