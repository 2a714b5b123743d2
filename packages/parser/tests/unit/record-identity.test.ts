import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  RECORD_HASH_HEX_DIGITS,
  RecordIdentity,
  RecordKeyError,
  recordHash,
  writeRecordHash,
} from '../../src/index.js';

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

  it('writes the same digits as bytes, once or twice, touching nothing else', () => {
    // Prepare: records whose digests cover every byte value in their first 8 bytes.
    const records = Array.from({ length: 300 }, (_, i) => Buffer.from(`{"i":${i},"s":"é${i}"}`));
    for (const record of records) {
      const target = Buffer.alloc(60, '.');
      // Act
      writeRecordHash(record, target, 3, 40);
      // Assess
      const digits = recordHash(record);
      expect(target.toString('latin1', 3, 3 + RECORD_HASH_HEX_DIGITS)).toBe(digits);
      expect(target.toString('latin1', 40, 40 + RECORD_HASH_HEX_DIGITS)).toBe(digits);
      expect(target.toString('latin1', 0, 3)).toBe('...');
      expect(target.toString('latin1', 19, 40)).toBe('.'.repeat(21));
      expect(target.toString('latin1', 56)).toBe('....');
    }
    const once = Buffer.alloc(20, '.');
    writeRecordHash(records[0] ?? Buffer.alloc(0), once, 2);
    expect(once.toString('latin1')).toBe(`..${recordHash(records[0] ?? '')}..`);
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
