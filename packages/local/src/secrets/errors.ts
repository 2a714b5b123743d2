import { LocalCloudError } from '../errors.js';

/** The local secrets file cannot be read as the documented shape. Never quotes a value. */
export class LocalSecretsFileError extends LocalCloudError {
  override name = 'LocalSecretsFileError';
  constructor(
    readonly file: string,
    reason: string,
  ) {
    super(
      `${file} ${reason}`,
      'see packages/local/README.md, "Secrets", for the shape of the secrets file',
    );
  }
}
