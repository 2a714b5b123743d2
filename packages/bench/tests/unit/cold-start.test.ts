import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { sdkClientsOf } from '../../src/cases/cold-start.js';

const PACKAGES = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const handler = (id: string) => readFileSync(join(PACKAGES, id, 'src', 'handler.ts'), 'utf8');

describe('sdkClientsOf', () => {
  it('finds the clients a handler imports from the SDK and constructs', () => {
    const source = [
      "import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';",
      "import { type LambdaClient } from '@aws-sdk/client-lambda';",
      "import { SSMClient } from '@aws-sdk/client-ssm';",
      'const s3 = new S3Client({});',
      'const ssm = new SSMClient({ region });',
    ].join('\n');

    expect(sdkClientsOf(source)).toEqual([
      { name: 'S3Client', module: '@aws-sdk/client-s3' },
      { name: 'SSMClient', module: '@aws-sdk/client-ssm' },
    ]);
  });

  it('reads every client of the three handlers', () => {
    const names = (id: string) => sdkClientsOf(handler(id)).map((client) => client.name);

    expect(names('manager').sort()).toEqual(['LambdaClient', 'S3Client']);
    expect(names('parser')).toEqual(['S3Client']);
    // The collector's SSM and Secrets Manager clients are imported on first use.
    expect(names('collector').sort()).toEqual(['LambdaClient', 'S3Client']);
  });

  it('leaves out a client the handler imports and builds on first use', () => {
    const source = [
      "import { S3Client } from '@aws-sdk/client-s3';",
      'const s3 = new S3Client({});',
      "const load = async () => new (await import('@aws-sdk/client-ssm')).SSMClient({});",
      "const { SSMClient } = await import('@aws-sdk/client-ssm');",
      'const later = () => new SSMClient({});',
    ].join('\n');

    expect(sdkClientsOf(source)).toEqual([{ name: 'S3Client', module: '@aws-sdk/client-s3' }]);
  });
});
