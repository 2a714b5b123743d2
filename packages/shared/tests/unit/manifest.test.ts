import { describe, expect, it } from 'vitest';
import {
  BUILT_IN_FORMATS,
  ContractValidationError,
  DEFAULT_COLLECTOR_SAFETY_MARGIN_MS,
  DEFAULT_SOURCE_TIMEOUT_MS,
  EPHEMERAL_STORAGE_BYTES,
  MAX_SOURCE_BYTES,
  maxSourceBytesFor,
  parseManifest,
  parseManifestText,
  parseScheduleExpression,
  sourceLimits,
  TMP_RESERVE_BYTES,
  topology,
} from '../../src/index.js';
import { aManifest, aSource } from '../helpers/factories.js';

/** Parses a manifest of one entry and returns that entry's errors. */
function errorsOf(entry: unknown): readonly string[] {
  const { sources, invalid } = parseManifest(aManifest([entry]));
  expect(sources).toEqual([]);
  expect(invalid).toHaveLength(1);
  return invalid[0]?.errors ?? [];
}

function acceptedSource(entry: unknown) {
  const { sources, invalid } = parseManifest(aManifest([entry]));
  expect(invalid).toEqual([]);
  expect(sources).toHaveLength(1);
  return sources[0];
}

describe('parseManifest: valid sources', () => {
  it('fills the documented defaults for a minimal source', () => {
    // Prepare
    const entry = aSource();

    // Act
    const source = acceptedSource(entry);

    // Assess
    expect(source).toEqual({
      ...entry,
      timeoutMs: DEFAULT_SOURCE_TIMEOUT_MS,
      allowPrivateNetwork: false,
      options: {},
    });
  });

  it('accepts every optional field', () => {
    // Prepare
    const entry = aSource({
      id: 'Prices_2026.v1-eu',
      url: 'http://prices.example.test/export?fmt=csv',
      format: 'csv',
      headers: {
        Authorization: { secret: 'ssm:/prices/token', prefix: 'Bearer ' },
        'X-Api-Key': { secret: 'secretsmanager:prices', key: 'apiKey' },
        Accept: 'text/csv',
      },
      query: { region: 'eu', access_token: { secret: 'ssm:prices-query-token' } },
      basicAuth: { username: 'prices', password: { secret: 'ssm:/prices/password' } },
      timeoutMs: 30_000,
      expectedDurationMs: 2_500,
      maxBytes: 5_000_000,
      allowPrivateNetwork: true,
      pagination: { type: 'link-header', maxPages: 3 },
      options: { delimiter: ';', header: true },
    });

    // Act
    const source = acceptedSource(entry);

    // Assess
    expect(source).toEqual(entry);
  });

  it.each(BUILT_IN_FORMATS.filter((format) => format !== 'html'))(
    'accepts the built-in format %s',
    (format) => {
      expect(acceptedSource(aSource({ format }))?.format).toBe(format);
    },
  );

  it('accepts the name of a custom extractor the parser registers', () => {
    expect(acceptedSource(aSource({ format: 'key-value' }))?.format).toBe('key-value');
  });

  it('defaults maxPages for both pagination kinds', () => {
    // Act
    const link = acceptedSource(aSource({ pagination: { type: 'link-header' } }));
    const next = acceptedSource(aSource({ pagination: { type: 'json-next', path: 'links.next' } }));

    // Assess
    expect(link?.pagination).toEqual({ type: 'link-header', maxPages: 20 });
    expect(next?.pagination).toEqual({ type: 'json-next', path: 'links.next', maxPages: 20 });
  });

  it('accepts the version field being absent', () => {
    // Act
    const result = parseManifest({ sources: [aSource()] });

    // Assess
    expect(result.sources).toHaveLength(1);
  });
});

describe('parseManifest: invalid entries name the field and the value', () => {
  it.each([
    ['a slash', 'a/b'],
    ['a space', 'a b'],
    ['an equals sign', 'source=a'],
    ['a leading dot', '.hidden'],
    ['a leading dash', '-x'],
    ['unicode', 'météo'],
    ['nothing', ''],
    ['129 characters', 'a'.repeat(129)],
  ])('rejects an id with %s', (_, id) => {
    // Act
    const errors = errorsOf(aSource({ id }));

    // Assess
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/^sources\[0\]\.id: must be 1-128 characters/);
    expect(errors[0]).toContain(`got ${JSON.stringify(id).slice(0, 40)}`);
  });

  it('accepts an id of exactly 128 characters', () => {
    expect(acceptedSource(aSource({ id: 'a'.repeat(128) }))?.id).toHaveLength(128);
  });

  it('rejects a non-string id', () => {
    expect(errorsOf(aSource({ id: 42 as unknown as string }))).toEqual([
      'sources[0].id: Invalid input: expected string, received number, got 42',
    ]);
  });

  it.each([
    'ftp://files.example.test/data.csv',
    'file:///etc/passwd',
    'javascript:alert(1)',
    'not a url',
    '//example.test/no-scheme',
  ])('rejects the url %s', (url) => {
    expect(errorsOf(aSource({ url }))).toEqual([
      `sources[0].url: must be http or https, got ${JSON.stringify(url)}`,
    ]);
  });

  it('reports the index of the entry, as in sources[3].url', () => {
    // Prepare
    const entries = [
      aSource({ id: 's0' }),
      aSource({ id: 's1' }),
      aSource({ id: 's2' }),
      aSource({ id: 's3', url: 'ftp://files.example.test/x' }),
    ];

    // Act
    const { invalid } = parseManifest(aManifest(entries));

    // Assess
    expect(invalid).toEqual([
      {
        index: 3,
        id: 's3',
        errors: ['sources[3].url: must be http or https, got "ftp://files.example.test/x"'],
      },
    ]);
  });

  it.each(['JSON', 'my_format', 'csv!', '1csv', 'a'.repeat(65)])(
    'rejects the format %s',
    (format) => {
      // Act
      const errors = errorsOf(aSource({ format }));

      // Assess
      expect(errors).toHaveLength(1);
      expect(errors[0]).toMatch(
        /^sources\[0\]\.format: must be one of json, ndjson, csv, rss, atom/,
      );
      expect(errors[0]).toContain(`got ${JSON.stringify(format)}`);
    },
  );

  it('rejects a header name HTTP does not allow, naming the header', () => {
    // Act
    const errors = errorsOf(aSource({ headers: { 'X Api Key': 'k' } }));

    // Assess
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/^sources\[0\]\.headers\.X Api Key: .*got "X Api Key"$/);
  });

  it('rejects a header value that is not a string', () => {
    expect(errorsOf(aSource({ headers: { Accept: 5 as unknown as string } }))).toEqual([
      'sources[0].headers.Accept: must be text or a secret reference {"secret": "ssm:<name>" or "secretsmanager:<name>"}, got a number (not shown: it may be a credential)',
    ]);
  });

  it.each([
    [99, 'Too small: expected number to be >=100, got 99'],
    [900_001, 'Too big: expected number to be <=900000, got 900001'],
    [1500.5, 'Invalid input: expected int, received number, got 1500.5'],
  ])('rejects the timeout %s ms', (timeoutMs, message) => {
    expect(errorsOf(aSource({ timeoutMs }))).toEqual([`sources[0].timeoutMs: ${message}`]);
  });

  it('accepts the timeout bounds 100 ms and what one collector invocation can give', () => {
    expect(acceptedSource(aSource({ timeoutMs: 100 }))?.timeoutMs).toBe(100);
    expect(acceptedSource(aSource({ timeoutMs: 285_000 }))?.timeoutMs).toBe(285_000);
  });

  it('rejects a non-positive expected duration and maxBytes', () => {
    // Act
    const errors = errorsOf(aSource({ expectedDurationMs: 0, maxBytes: -1 }));

    // Assess
    expect(errors).toEqual([
      'sources[0].expectedDurationMs: Too small: expected number to be >0, got 0',
      'sources[0].maxBytes: Too small: expected number to be >0, got -1',
    ]);
  });

  it('rejects an unknown pagination type', () => {
    // Act
    const errors = errorsOf(aSource({ pagination: { type: 'cursor' } as never }));

    // Assess
    expect(errors).toEqual([
      "sources[0].pagination.type: Invalid discriminator value. Expected 'link-header' | 'json-next' | 'html-next', got \"cursor\"",
    ]);
  });

  it('requires a path for json-next pagination', () => {
    expect(errorsOf(aSource({ pagination: { type: 'json-next' } as never }))).toEqual([
      'sources[0].pagination.path: Invalid input: expected string, received undefined, got nothing',
    ]);
  });

  it('bounds maxPages', () => {
    expect(errorsOf(aSource({ pagination: { type: 'link-header', maxPages: 0 } }))).toEqual([
      'sources[0].pagination.maxPages: Too small: expected number to be >=1, got 0',
    ]);
  });

  it('rejects a CSV delimiter longer than one character', () => {
    expect(errorsOf(aSource({ options: { delimiter: ';;' } }))).toEqual([
      'sources[0].options.delimiter: must be a single character, got ";;"',
    ]);
  });

  it('rejects an empty records path', () => {
    expect(errorsOf(aSource({ options: { recordsPath: '' } }))).toEqual([
      'sources[0].options.recordsPath: Too small: expected string to have >=1 characters, got ""',
    ]);
  });

  it('rejects unknown format options, naming the key (a typo must not be ignored)', () => {
    // Act
    const errors = errorsOf(aSource({ options: { delimter: ';' } as never }));

    // Assess
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/^sources\[0\]\.options: Unrecognized key: "delimter", got /);
  });

  it('rejects unknown source fields, naming the key', () => {
    // Act
    const errors = errorsOf({ ...aSource(), timeout: 5_000 });

    // Assess
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/^sources\[0\]: Unrecognized key: "timeout", got /);
  });

  it('reports every problem of one entry, not only the first', () => {
    // Act
    const errors = errorsOf({ id: 'ok-id', url: 'ftp://x.test', format: 'XML', timeoutMs: 1 });

    // Assess
    expect(errors.map((line) => line.split(':')[0])).toEqual([
      'sources[0].url',
      'sources[0].format',
      'sources[0].timeoutMs',
    ]);
  });

  it.each([
    ['a string', 'weather', 'expected object, received string, got "weather"'],
    ['null', null, 'expected object, received null, got null'],
    ['a number', 7, 'expected object, received number, got 7'],
    ['an array', [], 'expected object, received array, got []'],
  ])('reports an entry that is %s without an id', (_, entry, message) => {
    // Act
    const { invalid } = parseManifest(aManifest([entry]));

    // Assess
    expect(invalid).toEqual([{ index: 0, errors: [`sources[0]: Invalid input: ${message}`] }]);
  });

  it('reports the id of an invalid entry only when the id itself is usable', () => {
    // Act
    const { invalid } = parseManifest(
      aManifest([
        aSource({ id: 'good', url: 'ftp://x' }),
        aSource({ id: 'bad id', url: 'ftp://x' }),
      ]),
    );

    // Assess
    expect(invalid.map((entry) => entry.id)).toEqual(['good', undefined]);
    expect(invalid[1]).not.toHaveProperty('id');
  });
});

describe('parseManifest: what the deployed collector can give a source', () => {
  it('derives the limits from the topology: 28 MiB per source, 300 s - 15 s per request', () => {
    // Act
    const limits = sourceLimits();

    // Assess
    expect(limits).toEqual({
      maxBytes: 29_360_128,
      maxSourceJsonBytes: 1_048_576 - 16_384,
      payloadLimitBytes: 1_048_576,
      maxTimeoutMs: 285_000,
      collectorTimeoutMs: topology.functions.collector.timeoutSeconds * 1000,
      safetyMarginMs: DEFAULT_COLLECTOR_SAFETY_MARGIN_MS,
    });
    expect(MAX_SOURCE_BYTES).toBe(maxSourceBytesFor(topology.collectorConcurrency));
    expect(MAX_SOURCE_BYTES * topology.collectorConcurrency).toBeLessThanOrEqual(
      EPHEMERAL_STORAGE_BYTES - TMP_RESERVE_BYTES,
    );
  });

  it('rejects a maxBytes above the per-source limit, naming the limit', () => {
    // Act
    const errors = errorsOf(aSource({ maxBytes: MAX_SOURCE_BYTES + 1 }));

    // Assess
    expect(errors).toEqual([
      `sources[0].maxBytes: must be at most 29360128, the collector's limit per source (its /tmp shared by its concurrent fetches), got ${MAX_SOURCE_BYTES + 1}`,
    ]);
  });

  it('accepts a maxBytes at the per-source limit', () => {
    expect(acceptedSource(aSource({ maxBytes: MAX_SOURCE_BYTES }))?.maxBytes).toBe(
      MAX_SOURCE_BYTES,
    );
  });

  it('rejects a timeout longer than a collector invocation can give, naming the numbers', () => {
    // Act
    const errors = errorsOf(aSource({ timeoutMs: 285_001 }));

    // Assess
    expect(errors).toEqual([
      "sources[0].timeoutMs: must be at most 285000 (the collector's 300000 ms timeout minus its 15000 ms safety margin), got 285001",
    ]);
  });

  it('reports both limits of one entry, with its index and id', () => {
    // Prepare
    const entries = [
      aSource({ id: 'fine' }),
      aSource({ id: 'greedy', maxBytes: 100 * 1024 * 1024, timeoutMs: 600_000 }),
    ];

    // Act
    const { sources, invalid } = parseManifest(aManifest(entries));

    // Assess
    expect(sources.map((source) => source.id)).toEqual(['fine']);
    expect(invalid).toEqual([
      {
        index: 1,
        id: 'greedy',
        errors: [
          expect.stringMatching(/^sources\[1\]\.maxBytes: must be at most 29360128/),
          expect.stringMatching(/^sources\[1\]\.timeoutMs: must be at most 285000/),
        ],
      },
    ]);
  });

  it('checks against the limits it is given (a topology with a longer collector timeout)', () => {
    // Prepare
    const longer = {
      ...topology,
      functions: {
        ...topology.functions,
        collector: { ...topology.functions.collector, timeoutSeconds: 900 },
      },
    };

    // Act
    const { sources, invalid } = parseManifest(aManifest([aSource({ timeoutMs: 600_000 })]), {
      limits: sourceLimits(longer),
    });

    // Assess
    expect(invalid).toEqual([]);
    expect(sources[0]?.timeoutMs).toBe(600_000);
  });
});

describe('parseManifest: duplicates and partial validity', () => {
  it('keeps the first use of an id and reports each repeat by index and id', () => {
    // Prepare
    const entries = [
      aSource({ id: 'a', url: 'https://a.test/1' }),
      aSource({ id: 'b' }),
      aSource({ id: 'a', url: 'https://a.test/2' }),
      aSource({ id: 'a', url: 'https://a.test/3' }),
    ];

    // Act
    const { sources, invalid } = parseManifest(aManifest(entries));

    // Assess
    expect(sources.map((source) => [source.id, source.url])).toEqual([
      ['a', 'https://a.test/1'],
      ['b', 'https://api.example.test/v1/weather'],
    ]);
    expect(invalid).toEqual([
      { index: 2, id: 'a', errors: ['sources[2].id: duplicate id, got "a"'] },
      { index: 3, id: 'a', errors: ['sources[3].id: duplicate id, got "a"'] },
    ]);
  });

  it('lets the valid entries proceed around invalid ones, in manifest order', () => {
    // Prepare
    const entries = [
      aSource({ id: 'one' }),
      'garbage',
      aSource({ id: 'two', format: 'CSV' }),
      aSource({ id: 'three', format: 'ndjson' }),
    ];

    // Act
    const { sources, invalid } = parseManifest(aManifest(entries));

    // Assess
    expect(sources.map((source) => source.id)).toEqual(['one', 'three']);
    expect(invalid.map((entry) => entry.index)).toEqual([1, 2]);
  });

  it('accepts an empty source list', () => {
    expect(parseManifest(aManifest([]))).toEqual({ sources: [], invalid: [] });
  });
});

describe('parseManifest: the document as a whole', () => {
  it.each([
    ['an array', [], '(root): Invalid input: expected object, received array, got []'],
    ['null', null, '(root): Invalid input: expected object, received null, got null'],
    [
      'a string',
      'sources',
      '(root): Invalid input: expected object, received string, got "sources"',
    ],
    [
      'missing sources',
      { version: 1 },
      'sources: Invalid input: expected array, received undefined, got nothing',
    ],
    [
      'sources not a list',
      { sources: { a: 1 } },
      'sources: Invalid input: expected array, received object, got {"a":1}',
    ],
    [
      'an unknown version',
      { version: 2, sources: [] },
      'version: Invalid input: expected 1, got 2',
    ],
  ])('throws ContractValidationError for %s', (_, document, issue) => {
    // Act
    const act = () => parseManifest(document);

    // Assess
    expect(act).toThrow(ContractValidationError);
    expect(act).toThrow(`invalid source manifest: ${issue}`);
  });

  it('rejects unknown top-level keys', () => {
    // Act
    const act = () => parseManifest({ sources: [], source: [] });

    // Assess
    expect(act).toThrow(/^invalid source manifest: \(root\): Unrecognized key: "source"/);
  });

  it('carries the subject and the issue lines on the error', () => {
    // Act
    let caught: unknown;
    try {
      parseManifest({ version: 3, sources: 'x' });
    } catch (error) {
      caught = error;
    }

    // Assess
    expect(caught).toBeInstanceOf(ContractValidationError);
    const error = caught as ContractValidationError;
    expect(error.name).toBe('ContractValidationError');
    expect(error.subject).toBe('source manifest');
    expect(error.issues).toEqual([
      'version: Invalid input: expected 1, got 3',
      'sources: Invalid input: expected array, received string, got "x"',
    ]);
  });
});

describe('parseManifestText', () => {
  it('parses manifest JSON text', () => {
    // Act
    const result = parseManifestText(JSON.stringify(aManifest([aSource()])));

    // Assess
    expect(result.sources.map((source) => source.id)).toEqual(['weather-api']);
  });

  it.each(['{"sources": [', '', 'sources: []'])(
    'turns text that is not JSON (%j) into ContractValidationError',
    (text) => {
      // Act
      const act = () => parseManifestText(text);

      // Assess
      expect(act).toThrow(ContractValidationError);
      expect(act).toThrow(/^invalid source manifest: \(root\): not valid JSON \(/);
    },
  );
});

describe('parseManifest: cadence (`every`)', () => {
  it.each(['30m', '1h', '6h', '1d', '7d', 'cron(0 6 * * ? *)', 'cron(0/30 * ? * MON-FRI *)'])(
    'accepts %s',
    (every) => {
      // Act
      const source = acceptedSource(aSource({ every }));

      // Assess
      expect(source?.every).toBe(every);
    },
  );

  it('leaves a source without `every` without a cadence', () => {
    expect(acceptedSource(aSource())).not.toHaveProperty('every');
  });

  it.each([
    ['1w', 'must be a number of minutes, hours or days (30m, 6h, 1d) or cron(...)'],
    ['1 h', 'must be a number of minutes, hours or days (30m, 6h, 1d) or cron(...)'],
    ['rate(1 hour)', 'must be a number of minutes, hours or days (30m, 6h, 1d) or cron(...)'],
    ['0m', 'must be at least 1m'],
    ['367d', 'must be at most 366d'],
    ['cron(0 6 * * *)', 'cron needs 6 fields'],
    ['cron(0 6 * * * *)', 'cannot both be set'],
  ])('rejects %j naming the field and the value', (every, problem) => {
    // Act
    const [error] = errorsOf(aSource({ every }));

    // Assess
    expect(error).toMatch(/^sources\[0\]\.every: /);
    expect(error).toContain(problem);
    expect(error).toMatch(new RegExp(`, got ${JSON.stringify(every).replace(/[()*?]/g, '\\$&')}$`));
  });
});

describe('parseManifest: cadence against the stack schedule', () => {
  const tenMinutes = parseScheduleExpression('rate(10 minutes)');

  it('rejects a cadence finer than the schedule with a message naming both', () => {
    // Prepare
    const document = aManifest([aSource({ id: 'fast', every: '5m' })]);

    // Act
    const { sources, invalid } = parseManifest(document, { schedule: tenMinutes });

    // Assess
    expect(sources).toEqual([]);
    expect(invalid).toEqual([
      {
        index: 0,
        id: 'fast',
        errors: [
          `sources[0].every: is finer than the stack's schedule rate(10 minutes) (fire times 5 minutes apart, the schedule's 10 minutes): a source is collected at most once per scheduled run, got "5m"`,
        ],
      },
    ]);
  });

  it('accepts a cadence equal to the schedule or coarser, and keeps the others valid', () => {
    // Prepare
    const document = aManifest([
      aSource({ id: 'same', every: '10m' }),
      aSource({ id: 'fast', every: '9m' }),
      aSource({ id: 'daily', every: 'cron(0 6 * * ? *)' }),
      aSource({ id: 'always' }),
    ]);

    // Act
    const { sources, invalid } = parseManifest(document, { schedule: tenMinutes });

    // Assess
    expect(sources.map((source) => source.id)).toEqual(['same', 'daily', 'always']);
    expect(invalid.map((entry) => [entry.index, entry.id])).toEqual([[1, 'fast']]);
  });

  it('compares a cron cadence by the closest two of its fire times', () => {
    // Prepare: on the hour and at :05, so two fires are 5 minutes apart.
    const document = aManifest([aSource({ id: 'pair', every: 'cron(0,5 * * * ? *)' })]);

    // Act
    const { invalid } = parseManifest(document, { schedule: tenMinutes });

    // Assess
    expect(invalid[0]?.errors[0]).toContain(
      "finer than the stack's schedule rate(10 minutes) (fire times 5 minutes apart",
    );
  });

  it('compares against a cron schedule by its closest fire times', () => {
    // Prepare: twice a weekday, 8 hours apart at the closest.
    const schedule = parseScheduleExpression('cron(0 9,17 ? * MON-FRI *)');
    const document = aManifest([
      aSource({ id: 'six-hourly', every: '6h' }),
      aSource({ id: 'eight-hourly', every: '8h' }),
    ]);

    // Act
    const { sources, invalid } = parseManifest(document, { schedule });

    // Assess
    expect(sources.map((source) => source.id)).toEqual(['eight-hourly']);
    expect(invalid[0]?.errors).toEqual([
      `sources[0].every: is finer than the stack's schedule cron(0 9,17 ? * MON-FRI *) (fire times 6 hours apart, the schedule's 8 hours): a source is collected at most once per scheduled run, got "6h"`,
    ]);
  });

  it('skips only the comparison when no schedule is given', () => {
    // Act
    const { sources, invalid } = parseManifest(
      aManifest([aSource({ id: 'fast', every: '1m' }), aSource({ id: 'bad', every: '1x' })]),
    );

    // Assess
    expect(sources.map((source) => source.id)).toEqual(['fast']);
    expect(invalid.map((entry) => entry.id)).toEqual(['bad']);
  });

  it('passes the schedule through parseManifestText', () => {
    // Act
    const { invalid } = parseManifestText(JSON.stringify(aManifest([aSource({ every: '5m' })])), {
      schedule: tenMinutes,
    });

    // Assess
    expect(invalid[0]?.errors[0]).toContain("finer than the stack's schedule rate(10 minutes)");
  });
});

describe('parseManifest: what HTTP and the collector payload can carry', () => {
  it.each([
    ['a CR LF', 'v\r\nX-Injected: 1', 'has a line break (CR or LF) at character 2'],
    ['a bare LF', 'a\nb', 'has a line break (CR or LF) at character 2'],
    ['a NUL', 'a\u0000b', 'has the control character U+0000 at character 2'],
    ['DEL', 'ab\u007f', 'has the control character U+007F at character 3'],
    ['a character above U+00FF', 'price €', 'has a character above U+00FF at character 7'],
  ])('rejects a header value with %s, naming the header and the position', (_, value, problem) => {
    // Act
    const errors = errorsOf(aSource({ headers: { 'X-Note': value } }));

    // Assess
    expect(errors).toHaveLength(1);
    expect(errors[0]?.startsWith(`sources[0].headers.X-Note: header value ${problem}`)).toBe(true);
    expect(errors[0]).not.toContain(value);
  });

  it("checks a secret reference's prefix too", () => {
    const errors = errorsOf(
      aSource({ headers: { Authorization: { secret: 'ssm:/t', prefix: 'Bearer\r\n' } } }),
    );
    expect(errors[0]).toMatch(
      /^sources\[0\]\.headers\.Authorization\.prefix: header value has a line break/,
    );
  });

  it('accepts tab, visible ASCII and Latin-1 in a header value', () => {
    expect(acceptedSource(aSource({ headers: { 'X-Note': 'a\tb ~ café' } }))?.headers).toEqual({
      'X-Note': 'a\tb ~ café',
    });
  });

  it('rejects an entry whose collector task would not fit a payload, naming both sizes', () => {
    // Prepare
    const limit = sourceLimits().maxSourceJsonBytes;

    // Act
    const errors = errorsOf(aSource({ headers: { 'X-Padding': 'x'.repeat(limit) } }));

    // Assess
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(
      new RegExp(
        `^sources\\[0\\]: the entry is \\d+ bytes as JSON, over the ${limit} bytes a collector payload can carry for one source \\(Lambda's 1048576-byte async payload limit`,
      ),
    );
  });

  it('accepts an entry just under that size', () => {
    const padding = sourceLimits().maxSourceJsonBytes - 1_000;
    expect(
      acceptedSource(aSource({ headers: { 'X-Padding': 'x'.repeat(padding) } })),
    ).toBeDefined();
  });
});

describe('parseManifestText: a byte order mark', () => {
  it('accepts a manifest that starts with a UTF-8 BOM, as editors on Windows write it', () => {
    // Act
    const result = parseManifestText(`\uFEFF${JSON.stringify(aManifest([aSource()]))}`);

    // Assess
    expect(result.invalid).toEqual([]);
    expect(result.sources).toHaveLength(1);
  });
});

describe('parseManifest: emit and cursor', () => {
  it('accepts emit "changes" or "all", and a cursor with or without its query parameter', () => {
    const source = acceptedSource(
      aSource({ emit: 'changes', key: ['id'], cursor: { field: '/meta/updated', param: 'since' } }),
    );
    expect(source).toMatchObject({
      emit: 'changes',
      cursor: { field: '/meta/updated', param: 'since' },
    });
    expect(acceptedSource(aSource({ emit: 'all', cursor: { field: 'id' } }))).toMatchObject({
      emit: 'all',
      cursor: { field: 'id' },
    });
  });

  it('rejects another emit mode, naming the entry and the modes', () => {
    const errors = errorsOf({ ...aSource({ id: 'news' }), emit: 'new' });
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/^sources\[0\]\.emit: .*"all".*"changes".*, got "new"$/);
  });

  it('rejects a cursor without a field, with an unknown key, or a bad pointer', () => {
    expect(errorsOf({ ...aSource(), cursor: { param: 'since' } })[0]).toMatch(
      /^sources\[0\]\.cursor\.field: .*, got nothing$/,
    );
    expect(errorsOf({ ...aSource(), cursor: { field: 'id', parameter: 'since' } })[0]).toMatch(
      /^sources\[0\]\.cursor: Unrecognized key: "parameter"/,
    );
    expect(errorsOf(aSource({ cursor: { field: '/a~2b' } }))[0]).toBe(
      'sources[0].cursor.field: a JSON pointer may use ~ only as ~0 (for ~) or ~1 (for /), got "/a~2b"',
    );
    expect(errorsOf(aSource({ cursor: { field: 'id', param: 'up dated' } }))[0]).toBe(
      'sources[0].cursor.param: a query parameter name has no spaces or control characters, got "up dated"',
    );
  });

  it('rejects a cursor parameter the source already sends, in its url or its query', () => {
    const inUrl = parseManifest(
      aManifest([
        aSource({ id: 'ok' }),
        aSource({
          id: 'events',
          url: 'https://api.example.test/events?since=2026-01-01',
          cursor: { field: 'at', param: 'since' },
        }),
      ]),
    );
    expect(inUrl.sources.map((s) => s.id)).toEqual(['ok']);
    expect(inUrl.invalid).toEqual([
      {
        index: 1,
        id: 'events',
        errors: [
          'sources[1].cursor.param: is already a query parameter of the source (its url); the cursor\'s value would be sent twice: remove it there or name another parameter, got "since"',
        ],
      },
    ]);
    expect(
      errorsOf(aSource({ query: { after: '0' }, cursor: { field: 'id', param: 'after' } }))[0],
    ).toMatch(
      /^sources\[0\]\.cursor\.param: is already a query parameter of the source \(its "query"\)/,
    );
  });
});
