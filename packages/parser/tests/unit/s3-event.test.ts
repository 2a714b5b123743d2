import { encodeS3EventKey, isRawKey, parseS3Event } from '@fanout/shared';
import { describe, expect, it } from 'vitest';

function event(...keys: string[]) {
  return {
    Records: keys.map((key) => ({
      eventSource: 'aws:s3',
      eventTime: '2026-11-25T13:10:05.000Z',
      eventName: 'ObjectCreated:Put',
      s3: { bucket: { name: 'fanout-test' }, object: { key, size: 10 } },
    })),
  };
}

describe('S3 event keys, as the parser receives them', () => {
  it('decodes + as a space', () => {
    const { objects } = parseS3Event(event('raw/source=x/dt=2026-11-25/red+flower.csv'));
    expect(objects[0]?.key).toBe('raw/source=x/dt=2026-11-25/red flower.csv');
  });

  it('decodes %2B as a plus sign and UTF-8 escapes as unicode', () => {
    const { objects } = parseS3Event(
      event(
        'raw/source=x/dt=2026-11-25/a%2Bb.csv',
        'raw/source=x/dt=2026-11-25/gr%C3%BC%C3%9Fe+%E6%9D%B1%E4%BA%AC.csv',
      ),
    );
    expect(objects.map((o) => o.key)).toEqual([
      'raw/source=x/dt=2026-11-25/a+b.csv',
      'raw/source=x/dt=2026-11-25/grüße 東京.csv',
    ]);
  });

  it('round-trips keys S3 encodes', () => {
    const key = 'raw/source=x/dt=2026-11-25/it’s (1) + 2 = 3 ü.json';
    expect(parseS3Event(event(encodeS3EventKey(key))).objects[0]?.key).toBe(key);
  });

  it('tells raw keys from the parser’s own outputs (the recursion guard)', () => {
    expect(isRawKey('raw/source=x/dt=2026-11-25/r-p0000.json')).toBe(true);
    for (const key of [
      'parsed/source=x/a.ndjson.gz',
      'quarantine/source=x/a.json',
      'runs/r/parses/a.json',
      'raw/',
      'rawx/a',
    ]) {
      expect(isRawKey(key)).toBe(false);
    }
  });

  it('reports a key that is not valid URL encoding by record index', () => {
    const { objects, invalid } = parseS3Event(event('raw/ok.json', 'raw/bad%E0%A4%A.json'));
    expect(objects).toHaveLength(1);
    expect(invalid).toEqual([
      {
        index: 1,
        errors: [
          expect.stringContaining(
            'Records[1].s3.object.key: S3 event key is not valid URL encoding',
          ),
        ],
      },
    ]);
  });
});
