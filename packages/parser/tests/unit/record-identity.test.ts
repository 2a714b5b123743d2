import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { RecordIdentity, RecordKeyError, recordHash } from '../../src/index.js';

const keyOf = (key: string[], record: string) => {
  const bytes = Buffer.from(record, 'utf8');
  return new RecordIdentity(key).key(bytes, 0, bytes.length, 7);
};
const problemOf = (key: string[], record: string) => {
  try {
    keyOf(key, record);
  } catch (error) {
    return error;
  }
  throw new Error('expected a RecordKeyError');
};

describe('recordHash', () => {
  it('is the first 16 hex digits of the SHA-256 of the record bytes', () => {
    const record = '{"n":12345678901234567890123,"s":"café"}';
    expect(recordHash(record)).toBe(
      createHash('sha256').update(record, 'utf8').digest('hex').slice(0, 16),
    );
    expect(recordHash(Buffer.from(record))).toBe(recordHash(record));
  });
});

describe('RecordIdentity', () => {
  it('declares nothing without a key', () => {
    expect(new RecordIdentity(undefined).declared).toBe(false);
  });

  it('gives a string field by its text, so two spellings of one string are one key', () => {
    expect(keyOf(['id'], '{"id":"café","x":1}')).toBe('café');
    expect(keyOf(['id'], '{"x":1,"id":"caf\\u00e9"}')).toBe('café');
  });

  it('gives a number or boolean by its JSON text, big numbers exact', () => {
    expect(keyOf(['id'], '{"id":12345678901234567890123}')).toBe('12345678901234567890123');
    expect(keyOf(['id'], '{"id":-0.50}')).toBe('-0.50');
    expect(keyOf(['ok'], '{"ok":true}')).toBe('true');
  });

  it('follows JSON pointers through objects and arrays (~1 is /, ~0 is ~)', () => {
    const record = '{"item":{"guid":"g-1","a/b":{"~":"t"}},"tags":["x",{"id":9}]}';
    expect(keyOf(['/item/guid'], record)).toBe('g-1');
    expect(keyOf(['/item/a~1b/~0'], record)).toBe('t');
    expect(keyOf(['/tags/1/id'], record)).toBe('9');
  });

  it('takes the first of duplicated keys, and __proto__ like any key', () => {
    expect(keyOf(['id'], '{"id":1,"id":2}')).toBe('1');
    expect(keyOf(['__proto__'], '{"__proto__":"p"}')).toBe('p');
  });

  it('joins several fields as a JSON array, a missing or null one as null', () => {
    expect(keyOf(['country', 'id'], '{"id":42,"country":"us"}')).toBe('["us",42]');
    expect(keyOf(['country', 'id'], '{"id":42}')).toBe('[null,42]');
    expect(keyOf(['a', 'b'], '{"a":"x\\"y","b":null}')).toBe('["x\\"y",null]');
  });

  it('refuses a record with no key value, or an object or array as key, naming the record', () => {
    const missing = problemOf(['id'], '{"x":1}');
    expect(missing).toBeInstanceOf(RecordKeyError);
    expect((missing as RecordKeyError).message).toBe(
      'record 7 cannot be identified by its source\'s key: it has no value at its key field "id" (missing or null)',
    );
    expect((missing as RecordKeyError).location).toEqual({ record: 7 });
    expect((problemOf(['id'], '{"id":null}') as Error).message).toContain('missing or null');
    expect((problemOf(['a', 'b'], '{"c":1}') as Error).message).toContain('key fields "a", "b"');
    expect((problemOf(['id'], '{"id":{"n":1}}') as Error).message).toContain('"id" is an object');
    expect((problemOf(['id'], '{"id":[1]}') as Error).message).toContain('"id" is an array');
    expect((problemOf(['/1'], '[1]') as Error).message).toContain('missing or null');
    expect(keyOf(['/0'], '[1]')).toBe('1');
  });
});
