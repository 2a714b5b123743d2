import { GetSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { GetParameterCommand, type SSMClient } from '@aws-sdk/client-ssm';
import type { SecretStore } from './secrets.js';

// The clients, for the handler that imports this module on first use: through this module's
// static imports esbuild keeps the two clients and the two commands used, where an import()
// of the client packages themselves would keep every command of SSM and Secrets Manager.
export { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
export { SSMClient } from '@aws-sdk/client-ssm';

/** A secret that exists but holds no value the collector can send. */
export class EmptySecretError extends Error {
  override name = 'EmptySecret';
}

/**
 * The secret store of AWS: SSM GetParameter (WithDecryption) and Secrets Manager
 * GetSecretValue (AWSCURRENT). The clients are built by the caller once per
 * execution environment; their endpoints come from the environment
 * (`AWS_ENDPOINT_URL_SSM`, `AWS_ENDPOINT_URL_SECRETS_MANAGER`), which is how the
 * local cloud serves both.
 */
export function awsSecretStore(ssm: SSMClient, secretsManager: SecretsManagerClient): SecretStore {
  return {
    async getParameter(name) {
      const out = await ssm.send(new GetParameterCommand({ Name: name, WithDecryption: true }));
      const value = out.Parameter?.Value;
      if (value === undefined) throw new EmptySecretError();
      return value;
    },
    async getSecretString(id) {
      const out = await secretsManager.send(new GetSecretValueCommand({ SecretId: id }));
      if (out.SecretString !== undefined) return out.SecretString;
      if (out.SecretBinary !== undefined) return Buffer.from(out.SecretBinary).toString('utf8');
      throw new EmptySecretError();
    },
  };
}
