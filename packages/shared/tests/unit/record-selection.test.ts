import { describe, expect, it } from 'vitest';
import {
  CursorSchema,
  compareCursorValues,
  cursorParamText,
  higherCursor,
  isCursorValue,
} from '../../src/index.js';

const text = (value: string) => JSON.stringify(value);

describe('compareCursorValues', () => {
  it('compares numbers exactly by value, past 2^53 and whatever their spelling', () => {
    expect(compareCursorValues('12345678901234567890124', '12345678901234567890123')).toBe(1);
    expect(compareCursorValues('9007199254740993', '9007199254740992')).toBe(1);
    expect(compareCursorValues('1.0e2', '100')).toBe(0);
    expect(compareCursorValues('0.001', '1E-3')).toBe(0);
    expect(compareCursorValues('-0', '0')).toBe(0);
    expect(compareCursorValues('-1', '-2')).toBe(1);
    expect(compareCursorValues('-10', '2')).toBe(-1);
    expect(compareCursorValues('1e400', '1e399')).toBe(1);
    expect(compareCursorValues('0.5', '0.45')).toBe(1);
    expect(compareCursorValues('1733480000', '1733480000.000')).toBe(0);
  });

  it('compares RFC 3339 date-times as instants: offsets, fractions, lowercase and space', () => {
    expect(
      compareCursorValues(text('2026-12-06T11:00:00+01:00'), text('2026-12-06T10:00:00Z')),
    ).toBe(0);
    expect(
      compareCursorValues(text('2026-12-06T10:00:00.1Z'), text('2026-12-06T10:00:00.099999Z')),
    ).toBe(1);
    expect(
      compareCursorValues(
        text('2026-12-06T10:00:00.123456789Z'),
        text('2026-12-06T10:00:00.12345678Z'),
      ),
    ).toBe(1);
    expect(
      compareCursorValues(text('2026-12-06t09:30:00-00:45'), text('2026-12-06 10:14:59z')),
    ).toBe(1);
    // Across a year and a leap day, where a text comparison of other offsets would be wrong.
    expect(
      compareCursorValues(text('2028-02-29T23:30:00-01:00'), text('2028-03-01T00:00:00Z')),
    ).toBe(1);
    expect(compareCursorValues(text('0001-01-01T00:00:00Z'), text('9999-12-31T23:59:59Z'))).toBe(
      -1,
    );
  });

  it('compares other strings by Unicode code points', () => {
    expect(compareCursorValues(text('2026-12-06'), text('2026-12-05'))).toBe(1);
    expect(compareCursorValues(text('01J9Z0'), text('01J9Y9'))).toBe(1);
    expect(compareCursorValues(text('b'), text('ab'))).toBe(1);
    expect(compareCursorValues(text('a'), text('a'))).toBe(0);
    // U+1F600 sorts after U+FFFD by code point (UTF-16 code units would say otherwise).
    expect(compareCursorValues(text('\u{1F600}'), text('\uFFFD'))).toBe(1);
    // Two spellings of one string are one value.
    expect(compareCursorValues('"\\u0061"', '"a"')).toBe(0);
  });

  it('cannot compare a number with a string', () => {
    expect(compareCursorValues('5', text('5'))).toBeUndefined();
    expect(compareCursorValues(text('2026-12-06T10:00:00Z'), '1733479200')).toBeUndefined();
  });
});

describe('cursor values', () => {
  it('are the JSON text of a number or a string, within the length limit', () => {
    expect(isCursorValue('12')).toBe(true);
    expect(isCursorValue('-1.5e3')).toBe(true);
    expect(isCursorValue(text('2026-12-06T10:00:00Z'))).toBe(true);
    for (const not of [
      '',
      'null',
      'true',
      '{}',
      '[1]',
      '01',
      '"unclosed',
      '1.',
      text('x'.repeat(300)),
    ]) {
      expect(isCursorValue(not), not).toBe(false);
    }
  });

  it('are sent as a string’s own text or a number’s digits', () => {
    expect(cursorParamText(text('2026-12-06T10:00:00+01:00'))).toBe('2026-12-06T10:00:00+01:00');
    expect(cursorParamText('12345678901234567890123')).toBe('12345678901234567890123');
  });

  it('move only up; a value of another kind replaces the one kept', () => {
    expect(higherCursor(undefined, '3')).toBe('3');
    expect(higherCursor('3', undefined)).toBe('3');
    expect(higherCursor('3', '2')).toBe('3');
    expect(higherCursor('3', '4')).toBe('4');
    expect(higherCursor('3', text('a'))).toBe(text('a'));
  });
});

describe('CursorSchema', () => {
  it('takes a field name or JSON pointer and an optional query parameter', () => {
    expect(CursorSchema.parse({ field: 'updated_at', param: 'since' })).toEqual({
      field: 'updated_at',
      param: 'since',
    });
    expect(CursorSchema.parse({ field: '/meta/updated' })).toEqual({ field: '/meta/updated' });
    expect(CursorSchema.parse({ field: 'id', param: 'filter[id][gt]' }).param).toBe(
      'filter[id][gt]',
    );
  });
});
