import { LocalCloudError } from '../errors.js';

/** The demo sources could not start as asked. */
export class DemoSourcesError extends LocalCloudError {
  override name = 'DemoSourcesError';
}
