import { KNOWN_FORMATS } from '@fanout/shared';
import { describe, expect, it } from 'vitest';
import {
  createExtractorRegistry,
  defaultExtractors,
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
      'html',
      'json',
      'key-value',
      'ndjson',
      'rss',
    ]);
  });

  it('registers exactly the formats the manifest check knows', () => {
    // A custom extractor's name goes into CUSTOM_FORMATS, or its sources are rejected up front.
    expect(defaultExtractors.names()).toEqual([...KNOWN_FORMATS].sort());
  });

  it('reads HTML as text with the HTML charset prescan, other built-ins as text', () => {
    const registry = createExtractorRegistry();
    expect(registry.inputOf('html')).toBe('html');
    expect(registry.inputOf('csv')).toBe('text');
    registry.register('plain-lines', lines);
    expect(registry.inputOf('plain-lines')).toBe('bytes');
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
      'unknown format "yaml" (known: atom, csv, html, json, key-value, ndjson, rss)',
    );
  });
});
