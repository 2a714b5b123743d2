import { describe, expect, it } from 'vitest';

import * as z from 'zod';
import {
  ContractValidationError,
  check,
  FanoutContractError,
  formatPath,
  KeyLayoutError,
  parse,
  parseJson,
} from '../../src/index.js';

describe('formatPath', () => {
  it.each([
    [[], '(root)'],
    [['sources'], 'sources'],
    [['sources', 3, 'url'], 'sources[3].url'],
    [[0, 'a'], '[0].a'],
    [['m', 'x-y', 2, 0], 'm.x-y[2][0]'],
  ])('formats %j as %s', (path, text) => {
    expect(formatPath(path)).toBe(text);
  });
});

describe('check', () => {
  const Schema = z.object({ n: z.number().int(), s: z.string(), list: z.array(z.number()) });

  it('returns the parsed value', () => {
    expect(check(Schema, { n: 1, s: 'x', list: [] })).toEqual({
      ok: true,
      value: { n: 1, s: 'x', list: [] },
    });
  });

  it('writes one `path: problem, got value` line per issue, under the base path', () => {
    // Act
    const result = check(Schema, { n: 1.5, s: 7, list: [1, 'two'] }, ['sources', 3]);

    // Assess
    expect(result).toEqual({
      ok: false,
      issues: [
        'sources[3].n: Invalid input: expected int, received number, got 1.5',
        'sources[3].s: Invalid input: expected string, received number, got 7',
        'sources[3].list[1]: Invalid input: expected number, received string, got "two"',
      ],
    });
  });

  it('shows NaN and Infinity as themselves, not as null', () => {
    // Act
    const result = check(z.object({ a: z.number().int(), b: z.number().int() }), {
      a: Number.NaN,
      b: Number.POSITIVE_INFINITY,
    });

    // Assess
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.issues[0]).toMatch(/^a: .*got NaN$/);
      expect(result.issues[1]).toMatch(/^b: .*got Infinity$/);
    }
  });

  it('shortens long values to keep log lines readable', () => {
    // Act
    const result = check(z.number(), 'x'.repeat(500));

    // Assess
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.issues[0]).toMatch(/got "x+\.\.\.$/);
      expect(result.issues[0]?.length).toBeLessThan(200);
    }
  });

  it('shows a value JSON cannot write', () => {
    // Prepare
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;

    // Act
    const result = check(z.string(), cyclic);

    // Assess
    expect(result).toEqual({
      ok: false,
      issues: [
        '(root): Invalid input: expected string, received object, got {"self":{"self":{"self":{"self":{"self":{"self":{"self":{"self":{"self":{"sel...',
      ],
    });
  });
});

describe('parse', () => {
  it('throws a ContractValidationError naming the subject and each issue', () => {
    // Act
    const act = () => parse(z.object({ id: z.string() }), { id: 1 }, 'widget');

    // Assess
    expect(act).toThrow(ContractValidationError);
    expect(act).toThrow(
      'invalid widget: id: Invalid input: expected string, received number, got 1',
    );
  });

  it('returns the value when it validates', () => {
    expect(parse(z.string().default('d'), undefined, 'thing')).toBe('d');
  });
});

describe('parseJson', () => {
  it('parses JSON', () => {
    expect(parseJson('{"a":[1]}', 'doc')).toEqual({ a: [1] });
  });

  it('turns a syntax error into a ContractValidationError at the root', () => {
    // Act
    let caught: unknown;
    try {
      parseJson('{"a":', 'doc');
    } catch (error) {
      caught = error;
    }

    // Assess
    expect(caught).toBeInstanceOf(ContractValidationError);
    expect((caught as ContractValidationError).issues[0]).toMatch(/^\(root\): not valid JSON \(/);
  });
});

describe('errors', () => {
  it('derive from one base class and carry their names', () => {
    // Act
    const validation = new ContractValidationError('thing', ['a: bad, got 1']);
    const layout = new KeyLayoutError('a/b', 'invalid source id');

    // Assess
    expect(validation).toBeInstanceOf(FanoutContractError);
    expect(layout).toBeInstanceOf(FanoutContractError);
    expect(validation.name).toBe('ContractValidationError');
    expect(layout.name).toBe('KeyLayoutError');
    expect(layout.key).toBe('a/b');
    expect(layout.message).toBe('invalid source id: "a/b"');
  });
});
