import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalCloud } from '../../src/index.js';
import { type CaseOutcome, CONFORMANCE_CASES, formatConformance, runConformance } from './suite.js';
import {
  localTarget,
  type MotoServer,
  motoAvailable,
  s3OnlyTarget,
  seedLocalSecrets,
  startMoto,
} from './targets.js';

/**
 * The conformance suite against the local cloud, and against moto when python3 can
 * import it (optional: without it the output says so). Extra S3 servers can be
 * compared by naming them: CONFORMANCE_S3_ENDPOINTS="fauxqs=http://127.0.0.1:4910".
 */
let home: string;
let cloud: LocalCloud;
let moto: MotoServer | undefined;
const results: { target: string; outcomes: Map<string, CaseOutcome> }[] = [];

beforeAll(async () => {
  home = await mkdtemp(join(tmpdir(), 'fanout-conformance-'));
  await seedLocalSecrets(join(home, 'secrets.json'));
  cloud = await LocalCloud.start({ home });
  results.push({ target: 'local', outcomes: await runConformance(localTarget(cloud)) });
  if (motoAvailable()) {
    moto = await startMoto(home);
    results.push({ target: 'moto', outcomes: await runConformance(moto.target) });
  }
  for (const entry of (process.env.CONFORMANCE_S3_ENDPOINTS ?? '').split(',').filter(Boolean)) {
    const [name = entry, endpoint = ''] = entry.split('=', 2);
    results.push({ target: name, outcomes: await runConformance(s3OnlyTarget(name, endpoint)) });
  }
  const report = formatConformance(results);
  const motoNote = moto
    ? ''
    : '\nmoto: not compared (python3 cannot import moto here; install it with pip to compare)';
  process.stdout.write(`\n${report}${motoNote}\n`);
});

afterAll(async () => {
  await moto?.stop();
  await cloud?.stop();
  await rm(home, { recursive: true, force: true });
});

describe('conformance: the local cloud behaves as AWS documents', () => {
  for (const testCase of CONFORMANCE_CASES) {
    it(`${testCase.id}: ${testCase.documented}`, () => {
      const outcome = results[0]?.outcomes.get(testCase.id);
      if (testCase.localDivergence) {
        // A kept divergence stays documented only while it is real.
        expect(outcome?.kind, `now passes; drop localDivergence: ${testCase.localDivergence}`).toBe(
          'fail',
        );
      } else {
        expect(outcome).toEqual({ kind: 'pass' });
      }
    });
  }
});
