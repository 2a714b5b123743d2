import * as path from 'node:path';
import * as pulumi from '@pulumi/pulumi';
import { CONFIG_NAMESPACE, loadStackConfig } from './config.js';
import { FanoutPipeline } from './pipeline.js';

// The program runs as infra/dist/index.js (built) or infra/src/index.ts (tests):
// either way the infra directory is one level up and the repository two.
const projectDir = path.resolve(__dirname, '..');

const config = loadStackConfig(new pulumi.Config(CONFIG_NAMESPACE), { projectDir });

const pipeline = new FanoutPipeline('fanout', {
  config,
  repoRoot: path.resolve(projectDir, '..'),
  stack: pulumi.getStack(),
});

export const bucketName = pipeline.bucketName;
export const functionNames = pipeline.functionNames;
export const deadLetterQueueUrl = pipeline.deadLetterQueueUrl;
export const scheduleName = pipeline.scheduleName;
export const scheduleExpression = pipeline.scheduleExpression;
export const analyticsDatabaseName = pipeline.analyticsDatabaseName;
export const analyticsTableName = pipeline.analyticsTableName;
