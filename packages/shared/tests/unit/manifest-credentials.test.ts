import { describe, expect, it } from 'vitest';
import { parseManifest, type SourceInput } from '../../src/index.js';
import { aManifest, aSource } from '../helpers/factories.js';

function check(entry: SourceInput) {
  return parseManifest(aManifest([entry]));
}

function errorsOf(entry: SourceInput): readonly string[] {
  const { sources, invalid } = check(entry);
  expect(sources).toEqual([]);
  return invalid[0]?.errors ?? [];
}

const HOW = /reference a secret instead, e\.g\. \{"secret": "ssm:/;

describe('parseManifest: literal credentials', () => {
  it.each([
    'Authorization',
    'proxy-authorization',
    'Cookie',
    'X-Api-Key',
    'X-Auth-Token',
    'X-Client-Secret',
    'X-Custom-Token',
  ])('rejects a literal value in the %s header and says how to reference a secret', (name) => {
    // Act
    const errors = errorsOf(aSource({ headers: { Accept: 'text/csv', [name]: 'hunter2' } }));

    // Assess
    expect(errors).toHaveLength(1);
    expect(errors[0]).toContain(`sources[0].headers.${name}: literal credential in a header`);
    expect(errors[0]).toMatch(HOW);
    expect(errors.join(' ')).not.toContain('hunter2');
  });

  it('rejects user:password@ in the URL without echoing the password', () => {
    // Act
    const errors = errorsOf(aSource({ url: 'https://bob:s3cr3t@api.example.test/v1' }));

    // Assess
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/^sources\[0\]\.url: user:password@ in the URL; use "basicAuth"/);
    expect(errors[0]).not.toContain('s3cr3t');
  });

  it('rejects a credential-like query parameter in the URL and in query', () => {
    // Act
    const errors = errorsOf(
      aSource({
        url: 'https://api.example.test/v1?page=1&api_key=abc123',
        query: { access_token: 'xyz789', region: 'eu' },
      }),
    );

    // Assess
    expect(errors).toEqual([
      expect.stringMatching(/^sources\[0\]\.query\.access_token: literal credential/),
      expect.stringMatching(
        /^sources\[0\]\.url: query parameter "api_key" looks like a credential/,
      ),
    ]);
    expect(errors.join(' ')).not.toMatch(/abc123|xyz789/);
  });

  it('rejects a literal basic-auth password but accepts a literal username', () => {
    // Act
    const errors = errorsOf(aSource({ basicAuth: { username: 'bob', password: 'pw' } }));

    // Assess
    expect(errors).toEqual([
      expect.stringMatching(/^sources\[0\]\.basicAuth\.password: literal password; /),
    ]);
  });

  it('keeps literal credentials of a source that opts out', () => {
    // Prepare
    const entry = aSource({
      url: 'https://bob:pw@api.example.test/v1?token=t',
      headers: { Authorization: 'Bearer t' },
      allowLiteralCredentials: true,
    });

    // Act
    const { sources, invalid } = check(entry);

    // Assess
    expect(invalid).toEqual([]);
    expect(sources[0]).toMatchObject(entry);
  });

  it('accepts references for headers, query values and basic auth, and other literals', () => {
    // Prepare
    const entry = aSource({
      headers: {
        Authorization: { secret: 'ssm:/fanout/api-token', prefix: 'Bearer ' },
        Accept: 'application/json',
      },
      query: { api_key: { secret: 'secretsmanager:fanout/keys', key: 'query' }, fmt: 'json' },
      basicAuth: {
        username: { secret: 'secretsmanager:fanout/partner', key: 'user' },
        password: { secret: 'secretsmanager:fanout/partner', key: 'password' },
      },
    });

    // Act
    const { sources, invalid } = check(entry);

    // Assess
    expect(invalid).toEqual([]);
    expect(sources[0]).toMatchObject(entry);
  });

  it.each([
    ['vault:/x', 'must be "ssm:<parameter name>" or "secretsmanager:<secret name or ARN>"'],
    ['ssm:', 'must be "ssm:<parameter name>"'],
    ['ssm:/a//b', 'must be "ssm:<parameter name>"'],
    ['secretsmanager:has space', 'must be "ssm:<parameter name>"'],
  ])('rejects the malformed reference %s, naming the field', (secret, message) => {
    // Act
    const errors = errorsOf(aSource({ headers: { Authorization: { secret } } }));

    // Assess
    expect(errors).toHaveLength(1);
    expect(errors[0]).toContain('sources[0].headers.Authorization.secret: ');
    expect(errors[0]).toContain(message);
  });

  it('fails only the offending source; the others proceed', () => {
    // Act
    const { sources, invalid } = parseManifest(
      aManifest([
        aSource({ id: 'good', headers: { Authorization: { secret: 'ssm:/t' } } }),
        aSource({ id: 'bad', headers: { Authorization: 'Bearer t' } }),
      ]),
    );

    // Assess
    expect(sources.map((s) => s.id)).toEqual(['good']);
    expect(invalid).toEqual([{ index: 1, id: 'bad', errors: [expect.any(String)] }]);
  });
});

describe('parseManifest: errors never echo a credential', () => {
  // Distinctive values: a search for them cannot miss.
  const PASSWORD = 'pw-5c1e9a77';
  const TOKEN = 'tok-0d8b2f41';
  const PASTED = 'ghp_9f3a1c7e5b2d';

  /** Every error of a manifest of these entries, as one text. */
  function allErrors(entries: unknown[]): string {
    const { invalid } = parseManifest(aManifest(entries));
    return invalid.flatMap((entry) => entry.errors).join('\n');
  }

  it('redacts an ftp URL with user:password@ and a token in its query', () => {
    // Act
    const errors = allErrors([
      aSource({ url: `ftp://user1:${PASSWORD}@example.com/x?token=${TOKEN}` }),
    ]);

    // Assess
    expect(errors).toBe(
      'sources[0].url: must be http or https, got "ftp://example.com/x?token=REDACTED"',
    );
  });

  it('redacts the entry shown for an unknown key, and a URL that does not parse', () => {
    // Act
    const errors = allErrors([
      { ...aSource({ url: `https://example.com/x?token=${TOKEN}` }), extra: 1 },
      aSource({ url: `user1:${PASSWORD}@example .com/x?api_key=${TOKEN}` }),
    ]);

    // Assess
    expect(errors).toContain('Unrecognized key: "extra", got {"id":');
    expect(errors).toContain('"url":"https://example.com/x?token=REDACTED"');
    expect(errors).not.toContain(TOKEN);
    expect(errors).not.toContain(PASSWORD);
  });

  it('never shows a token pasted where the secret reference belongs', () => {
    // Act
    const errors = allErrors([
      aSource({ headers: { Authorization: { secret: `Bearer ${PASTED}` } } }),
      aSource({ id: 'q', query: { api_key: { secret: PASTED } } }),
      aSource({ id: 'b', basicAuth: { username: 'u', password: { secret: PASTED } } }),
    ]);

    // Assess
    expect(errors).toContain(
      'sources[0].headers.Authorization.secret: must be "ssm:<parameter name>" or "secretsmanager:<secret name or ARN>", got a string (not shown: it may be a credential)',
    );
    expect(errors.split('\n')).toHaveLength(3);
    expect(errors).not.toContain(PASTED);
  });

  it('shows header values of an invalid entry as REDACTED, and a valid reference as it is', () => {
    // Act
    const errors = allErrors([
      {
        headers: {
          'X-Custom': `literal-${TOKEN}`,
          Authorization: { secret: 'ssm:/fanout/token', prefix: `Bearer ${TOKEN}` },
        },
        ...aSource(),
        extra: true,
      },
    ]);

    // Assess
    expect(errors).not.toContain(TOKEN);
    expect(errors).toContain(
      'got {"headers":{"X-Custom":"REDACTED","Authorization":{"secret":"ssm:/fanout/toke...',
    );
  });
});
