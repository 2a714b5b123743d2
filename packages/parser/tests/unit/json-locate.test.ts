import { describe, expect, it } from 'vitest';
import { JsonSyntaxScanner } from '../../src/formats/json-locate.js';

function scan(text: string, chunkBytes = 3) {
  const scanner = new JsonSyntaxScanner();
  const bytes = Buffer.from(text, 'utf8');
  for (let start = 0; start < bytes.length; start += chunkBytes) {
    scanner.feed(bytes.subarray(start, start + chunkBytes));
  }
  scanner.end();
  return scanner;
}

/** A deterministic generator (a linear congruential one), so a failure can be replayed. */
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1103515245 + 12345) & 0x7fffffff;
    return state / 0x80000000;
  };
}

function documents(count: number, seed: number): string[] {
  const next = random(seed);
  const pick = <T>(items: readonly T[]) => items[Math.floor(next() * items.length)] as T;
  const value = (depth: number): string => {
    const roll = next();
    if (depth > 3 || roll < 0.3) {
      return pick([
        '0',
        '-12',
        '3.5e+2',
        '1E9',
        '0.25',
        'true',
        'false',
        'null',
        '""',
        '"a\\n\\u00e9"',
      ]);
    }
    const size = Math.floor(next() * 4);
    if (roll < 0.65) {
      return `[${Array.from({ length: size }, () => value(depth + 1)).join(pick([',', ' , ', ',\n']))}]`;
    }
    const members = Array.from(
      { length: size },
      (_, i) => `"k${i}"${pick([':', ' : '])}${value(depth + 1)}`,
    );
    return `{${members.join(',\n ')}}`;
  };
  // One insertion, deletion or replacement in each valid document: most become invalid.
  const alphabet = [...'{}[],:"\\ \n\t0123456789.eE+-truefalsenullx\u0001'];
  return Array.from({ length: count }, () => {
    const text = value(0);
    const at = Math.floor(next() * (text.length + 1));
    const edit = next();
    const char = pick(alphabet);
    if (edit < 0.33) return text.slice(0, at) + char + text.slice(at);
    if (edit < 0.66) return text.slice(0, at) + text.slice(at + 1);
    return text.slice(0, at) + char + text.slice(at + 1);
  });
}

describe('JsonSyntaxScanner', () => {
  it('accepts valid documents, whitespace stream-json accepts included', () => {
    for (const text of [
      '[]',
      '{"a":[1,-0.5e+3,"\\u00e9",true,null,{}]}',
      '  7 ',
      '"x"',
      '\u00a0[1,\u3000 2]\v\f',
    ]) {
      expect(scan(text, 1).problem).toBeUndefined();
    }
  });

  it('reports nothing for an empty document, which the extractor names itself', () => {
    const scanner = scan(' \n ');
    expect(scanner.sawValue).toBe(false);
    expect(scanner.problem).toBeUndefined();
  });

  it('names a multi-byte character whole, even across chunks', () => {
    expect(scan('[1, 日本]', 1).problem).toEqual({
      line: 1,
      byteOffset: 4,
      found: '"日"',
      reason: 'expected a value',
      whitespace: false,
    });
    expect(scan('[1]\n€', 2).problem).toEqual({
      line: 2,
      byteOffset: 4,
      found: '"€"',
      reason: 'expected the end of the document',
      whitespace: false,
    });
  });

  it("in strict mode, flags whitespace outside JSON's four, even split across chunks", () => {
    const scanner = new JsonSyntaxScanner(true);
    for (const byte of Buffer.from('[1,\n\u3000 2]', 'utf8')) scanner.feed(Uint8Array.of(byte));
    scanner.end();
    expect(scanner.problem).toEqual({
      line: 2,
      byteOffset: 4,
      found: 'U+3000',
      reason: 'whitespace JSON does not allow (strict)',
      whitespace: true,
    });
    expect(scan('[- 1]').problem).toMatchObject({ byteOffset: 2, whitespace: false });
  });

  it('agrees with JSON.parse on what is valid and on where it fails', () => {
    // Prepare: V8's JSON.parse names the position of the offending character for most
    // errors; for ASCII text a character is a byte.
    let positioned = 0;
    for (const text of documents(1500, 11)) {
      let message: string | undefined;
      try {
        JSON.parse(text);
      } catch (error) {
        message = (error as Error).message;
      }

      // Act
      const problem = scan(text).problem;

      // Assess
      if (!/\S/.test(text)) continue;
      expect(problem === undefined, text).toBe(message === undefined);
      const position = message === undefined ? undefined : /at position (\d+)/.exec(message);
      if (position) {
        positioned += 1;
        expect(problem?.byteOffset, text).toBe(Number(position[1]));
        expect(problem?.line, text).toBe(text.slice(0, Number(position[1])).split('\n').length);
      }
    }
    expect(positioned).toBeGreaterThan(500);
  });
});
