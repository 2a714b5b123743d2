export { LocalSecretsFileError } from './errors.js';
export { type LocalSecretsServer, startLocalSecrets } from './server.js';
export { readSecretsFile, SecretsFileSchema } from './store.js';
