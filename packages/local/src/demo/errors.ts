/** The demo sources could not start as asked. */
export class DemoSourcesError extends Error {
  override name = 'DemoSourcesError';
}
