import { BUILT_IN_FORMATS, type BuiltInFormat, FormatSchema } from '@fanout/shared';
import { ExtractorRegistrationError, UnknownFormatError } from '../errors.js';
import { keyValue } from './key-value.js';
import type { Extractor } from './types.js';

/**
 * An extractor whose module (and the library it wraps) is imported at its first use: a
 * function's cold start loads no format library, and a parse loads only its format's.
 */
export function lazyExtractor(load: () => Promise<Extractor>): Extractor {
  let loading: Promise<Extractor> | undefined;
  return async function* lazy(input, context) {
    loading ??= load();
    yield* (await loading)(input, context);
  };
}

export const BUILT_IN_EXTRACTORS: Readonly<Record<BuiltInFormat, Extractor>> = {
  json: lazyExtractor(async () => (await import('./json.js')).json),
  ndjson: lazyExtractor(async () => (await import('./ndjson.js')).ndjson),
  csv: lazyExtractor(async () => (await import('./csv.js')).csv),
  rss: lazyExtractor(async () => (await import('./feed.js')).rss),
  atom: lazyExtractor(async () => (await import('./feed.js')).atom),
  html: lazyExtractor(async () => (await import('./html.js')).html),
};

/**
 * What an extractor reads: `text` is the body decoded to UTF-8 (see the README, "Character
 * sets"); `html` the same, with an HTML `<meta charset>` in place of an XML declaration;
 * `bytes` is the body exactly as fetched, for binary formats.
 */
export type ExtractorInput = 'text' | 'html' | 'bytes';

export interface RegisterOptions {
  /** Default `bytes`, so a custom extractor gets the exact bytes unless it asks for text. */
  readonly input?: ExtractorInput;
}

/** Extractors by format name: the built-in formats plus custom ones. */
export class ExtractorRegistry {
  private readonly byName = new Map<string, Extractor>(Object.entries(BUILT_IN_EXTRACTORS));
  private readonly textInput = new Map<string, ExtractorInput>(
    Object.keys(BUILT_IN_EXTRACTORS).map((name) => [name, name === 'html' ? 'html' : 'text']),
  );

  /**
   * Adds a custom format. The name is what a source's `format` says in the
   * manifest; built-in names cannot be replaced, and a name is registered once.
   */
  register(name: string, extractor: Extractor, options: RegisterOptions = {}): void {
    if (!FormatSchema.safeParse(name).success) {
      throw new ExtractorRegistrationError(
        `extractor name ${JSON.stringify(name)} is not a valid format name (lowercase letter first, then lowercase letters, digits or -)`,
      );
    }
    if ((BUILT_IN_FORMATS as readonly string[]).includes(name)) {
      throw new ExtractorRegistrationError(`${JSON.stringify(name)} is a built-in format`);
    }
    if (this.byName.has(name)) {
      throw new ExtractorRegistrationError(
        `an extractor named ${JSON.stringify(name)} is already registered`,
      );
    }
    this.byName.set(name, extractor);
    if (options.input !== undefined && options.input !== 'bytes') {
      this.textInput.set(name, options.input);
    }
  }

  /** A built-in format, whose records the parser writes without checking them again. */
  isBuiltIn(format: string): boolean {
    return (BUILT_IN_FORMATS as readonly string[]).includes(format);
  }

  /** Whether the extractor for `format` reads decoded text or the exact bytes. */
  inputOf(format: string): ExtractorInput {
    return this.textInput.get(format) ?? 'bytes';
  }

  /** The extractor for `format`, or UnknownFormatError listing the known names. */
  get(format: string): Extractor {
    const extractor = this.byName.get(format);
    if (!extractor) throw new UnknownFormatError(format, this.names());
    return extractor;
  }

  names(): string[] {
    return [...this.byName.keys()].sort();
  }
}

/** A registry with the built-in formats and the shipped example (`key-value`). */
export function createExtractorRegistry(): ExtractorRegistry {
  const registry = new ExtractorRegistry();
  registry.register('key-value', keyValue, { input: 'text' });
  return registry;
}

/** The registry the deployed handler uses; custom extractors are added to it at module load. */
export const defaultExtractors = createExtractorRegistry();

/** Registers a custom extractor in the default registry (see README, "Adding a format"). */
export function registerExtractor(
  name: string,
  extractor: Extractor,
  options: RegisterOptions = {},
): void {
  defaultExtractors.register(name, extractor, options);
}
