import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { topology } from '@fanout/shared';
import { type LocalS3, startLocalS3 } from '../../src/index.js';

/** A fresh data folder for one test file's server, under the system's temp folder. */
export function tempHome(label: string): Promise<string> {
  return mkdtemp(join(tmpdir(), `fanout-s3-${label}-`));
}

/** The local S3 on `home` with the topology's notification, its events delivered nowhere. */
export function startQuietS3(home: string, bucket: string): Promise<LocalS3> {
  return startLocalS3({
    home,
    bucket,
    notification: topology.notification,
    deliver: async () => {},
  });
}
