import { describe, expect, it } from 'vitest';
import {
  compactJson,
  isJsonValue,
  JSON_COMPACT,
  JSON_SPACED,
  JSON_TOO_DEEP,
  MAX_JSON_DEPTH,
  scanJsonValue,
} from '../../src/formats/json-validate.js';

function parses(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

const check = (text: string) => {
  const bytes = Buffer.from(text, 'utf8');
  return isJsonValue(bytes, 0, bytes.length);
};

const VALID = [
  '{}',
  '[]',
  ' { "a" : [ 1 , 2.5e-3 , -0 , 0.1E+2 ] } ',
  '{"a":{"b":{"c":[[[]],{}]}}}',
  '"\\u00e9\\ud83d\\ude00 é 😀 \\" \\\\ \\/ \\b\\f\\n\\r\\t"',
  '12345678901234567890',
  'true',
  'false',
  'null',
  '[true,false,null,"x",{"k":null}]',
  '{"a":1,"a":2}',
  '\t[1]\r',
];

const INVALID = [
  '',
  ' ',
  '{',
  '}',
  '{"a":1,}',
  '[1,]',
  '[,1]',
  '{"a" 1}',
  '{a:1}',
  "{'a':1}",
  '01',
  '1.',
  '.5',
  '-',
  '1e',
  '1e+',
  '+1',
  'NaN',
  'Infinity',
  'tru',
  'nul',
  'truex',
  '"unterminated',
  '"bad \\x escape"',
  '"bad \\u12G4"',
  '"\\u12"',
  '"tab\tinside"',
  '{"a":1} {"b":2}',
  '[1] 2',
  '{"a":1]',
  '[1}',
  '\u00a0{}',
  '{}\u2028',
  '\uFEFF{}',
];

describe('isJsonValue', () => {
  it.each(VALID)('accepts %j, as JSON.parse does', (text) => {
    expect(parses(text)).toBe(true);
    expect(check(text)).toBe(true);
  });

  it.each(INVALID)('rejects %j, as JSON.parse does', (text) => {
    expect(parses(text)).toBe(false);
    expect(check(text)).toBe(false);
  });

  it('reads only the range it is given', () => {
    const bytes = Buffer.from('xx{"a":[1,2]}yy');
    expect(isJsonValue(bytes, 2, 13)).toBe(true);
    expect(isJsonValue(bytes, 2, 12)).toBe(false);
    expect(isJsonValue(bytes, 0, 13)).toBe(false);
  });

  it('tells nesting deeper than MAX_JSON_DEPTH apart from invalid JSON, without recursion', () => {
    const at = (text: string) => scanJsonValue(Buffer.from(text), 0, text.length);
    expect(at(`${'['.repeat(MAX_JSON_DEPTH)}${']'.repeat(MAX_JSON_DEPTH)}`)).toBe(JSON_COMPACT);
    expect(at(`${'['.repeat(MAX_JSON_DEPTH + 1)}${']'.repeat(MAX_JSON_DEPTH + 1)}`)).toBe(
      JSON_TOO_DEEP,
    );
    expect(at(`${'{"a":'.repeat(100_000)}1${'}'.repeat(100_000)}`)).toBe(JSON_TOO_DEEP);
  });

  it('tells whitespace between tokens apart, and compactJson leaves only it out', () => {
    const text = ' {"a" : [1,\r\n 2], "s":" x \\" y" }\t';
    const bytes = Buffer.from(text);
    expect(scanJsonValue(bytes, 0, bytes.length)).toBe(JSON_SPACED);
    expect(scanJsonValue(Buffer.from('{"a":[1,2]}'), 0, 11)).toBe(JSON_COMPACT);
    const target = Buffer.alloc(bytes.length);
    const written = compactJson(bytes, 0, bytes.length, target, 0);
    expect(target.toString('utf8', 0, written)).toBe('{"a":[1,2],"s":" x \\" y"}');
  });

  it('agrees with JSON.parse on every prefix of a mixed document', () => {
    const text = '{"id":1,"n":-1.5e+3,"s":"a\\"b","t":[true,false,null,{"x":[]}],"u":"\\u0041"}';
    for (let end = 0; end <= text.length; end += 1) {
      const prefix = text.slice(0, end);
      expect(check(prefix), prefix).toBe(parses(prefix));
    }
  });
});
