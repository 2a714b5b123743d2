import { BUILT_IN_FORMATS, type BuiltInFormat, FormatSchema } from '@fanout/shared';
import { ExtractorRegistrationError, UnknownFormatError } from '../errors.js';
import { csv } from './csv.js';
import { atom, rss } from './feed.js';
import { json } from './json.js';
import { keyValue } from './key-value.js';
import { ndjson } from './ndjson.js';
import type { Extractor } from './types.js';

export const BUILT_IN_EXTRACTORS: Readonly<Record<BuiltInFormat, Extractor>> = {
  json,
  ndjson,
  csv,
  rss,
  atom,
};

/**
 * What an extractor reads: `text` is the body decoded to UTF-8 (see the README, "Character
 * sets"); `bytes` is the body exactly as fetched, for binary formats.
 */
export type ExtractorInput = 'text' | 'bytes';

export interface RegisterOptions {
  /** Default `bytes`, so a custom extractor gets the exact bytes unless it asks for text. */
  readonly input?: ExtractorInput;
}

/** Extractors by format name: the built-in formats plus custom ones. */
export class ExtractorRegistry {
  private readonly byName = new Map<string, Extractor>(Object.entries(BUILT_IN_EXTRACTORS));
  private readonly textInput = new Set<string>(Object.keys(BUILT_IN_EXTRACTORS));

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
    if (options.input === 'text') this.textInput.add(name);
  }

  /** A built-in format, whose records the parser writes without checking them again. */
  isBuiltIn(format: string): boolean {
    return (BUILT_IN_FORMATS as readonly string[]).includes(format);
  }

  /** Whether the extractor for `format` reads decoded text or the exact bytes. */
  inputOf(format: string): ExtractorInput {
    return this.textInput.has(format) ? 'text' : 'bytes';
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
