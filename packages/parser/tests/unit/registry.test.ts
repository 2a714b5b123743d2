import { describe, expect, it } from 'vitest';
import {
  createExtractorRegistry,
  type Extractor,
  ExtractorRegistrationError,
  UnknownFormatError,
} from '../../src/index.js';

const lines: Extractor = async function* lines(input) {
  for await (const chunk of input) yield { text: String(chunk) };
};

describe('ExtractorRegistry', () => {
  it('knows the built-in formats and the shipped example', () => {
    expect(createExtractorRegistry().names()).toEqual([
      'atom',
      'csv',
      'json',
      'key-value',
      'ndjson',
      'rss',
    ]);
  });

  it('registers a custom extractor under a format name', () => {
    const registry = createExtractorRegistry();
    registry.register('plain-lines', lines);
    expect(registry.get('plain-lines')).toBe(lines);
  });

  it('refuses built-in names, duplicates and names a manifest could not use', () => {
    const registry = createExtractorRegistry();
    expect(() => registry.register('csv', lines)).toThrow(ExtractorRegistrationError);
    expect(() => registry.register('key-value', lines)).toThrow(/already registered/);
    expect(() => registry.register('Bad Name', lines)).toThrow(/not a valid format name/);
  });

  it('names the known formats for an unknown one', () => {
    const error = (() => {
      try {
        createExtractorRegistry().get('yaml');
      } catch (e) {
        return e as Error;
      }
      throw new Error('expected UnknownFormatError');
    })();
    expect(error).toBeInstanceOf(UnknownFormatError);
    expect(error.message).toBe(
      'unknown format "yaml" (known: atom, csv, json, key-value, ndjson, rss)',
    );
  });
});
