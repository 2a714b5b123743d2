import type { CollectorTask } from '@fanout/shared';
import { describe, expect, it } from 'vitest';
import {
  lazySecretStore,
  resolveTask,
  SecretAccessDeniedError,
  SecretKeyMissingError,
  SecretNotFoundError,
  SecretReferenceError,
  SecretResolver,
  type SecretStore,
  SecretUnavailableError,
  scrubSecrets,
} from '../../src/index.js';
import { payload } from '../helpers/payloads.js';

function awsError(name: string): Error {
  return Object.assign(new Error(`${name} from the service`), { name });
}

/** A store over fixed values that counts its reads; `failures` throw the named error. */
function countingStore(
  parameters: Record<string, string>,
  secrets: Record<string, string> = {},
  failures: Record<string, string> = {},
): SecretStore & { reads: string[] } {
  const reads: string[] = [];
  const read = async (id: string, values: Record<string, string>, missing: string) => {
    reads.push(id);
    await new Promise((resolve) => setImmediate(resolve));
    const failure = failures[id];
    if (failure) throw awsError(failure);
    const value = values[id];
    if (value === undefined) throw awsError(missing);
    return value;
  };
  return {
    reads,
    getParameter: (name) => read(name, parameters, 'ParameterNotFound'),
    getSecretString: (id) => read(id, secrets, 'ResourceNotFoundException'),
  };
}

function manualClock(start = 1_000_000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

describe('SecretResolver', () => {
  it('reads a secret once within the TTL, shared by concurrent callers', async () => {
    // Prepare
    const store = countingStore({ '/api/token': 'tok-123' });
    const clock = manualClock();
    const resolver = new SecretResolver({ store, ttlMs: 60_000, clock });
    const reference = { secret: 'ssm:/api/token', prefix: 'Bearer ' };

    // Act
    const values = await Promise.all([
      resolver.resolve('a', reference),
      resolver.resolve('b', reference),
    ]);
    clock.advance(59_999);
    const later = await resolver.resolve('c', reference);

    // Assess
    expect(values).toEqual(['Bearer tok-123', 'Bearer tok-123']);
    expect(later).toBe('Bearer tok-123');
    expect(store.reads).toEqual(['/api/token']);
  });

  it('reads the secret again once the TTL has passed (a rotated value is picked up)', async () => {
    // Prepare
    const parameters = { '/api/token': 'old' };
    const store = countingStore(parameters);
    const clock = manualClock();
    const resolver = new SecretResolver({ store, ttlMs: 60_000, clock });
    await resolver.resolve('a', { secret: 'ssm:/api/token' });
    parameters['/api/token'] = 'rotated';

    // Act
    clock.advance(60_000);
    const value = await resolver.resolve('a', { secret: 'ssm:/api/token' });

    // Assess
    expect(value).toBe('rotated');
    expect(store.reads).toEqual(['/api/token', '/api/token']);
  });

  it('reads a JSON secret once for all its keys', async () => {
    // Prepare
    const store = countingStore({}, { partner: '{"user":"alice","password":"pw-9","port":8443}' });
    const resolver = new SecretResolver({ store, ttlMs: 60_000, clock: manualClock() });

    // Act
    const user = await resolver.resolve('s', { secret: 'secretsmanager:partner', key: 'user' });
    const password = await resolver.resolve('s', {
      secret: 'secretsmanager:partner',
      key: 'password',
    });
    const port = await resolver.resolve('s', { secret: 'secretsmanager:partner', key: 'port' });

    // Assess
    expect([user, password, port]).toEqual(['alice', 'pw-9', '8443']);
    expect(store.reads).toEqual(['partner']);
  });

  it('fails a missing reference naming it and the fix, never caching the failure', async () => {
    // Prepare
    const parameters: Record<string, string> = {};
    const store = countingStore(parameters);
    const resolver = new SecretResolver({ store, ttlMs: 60_000, clock: manualClock() });

    // Act
    const error = await resolver.resolve('src-1', { secret: 'ssm:/nope' }).catch((e) => e);
    parameters['/nope'] = 'created';
    const after = await resolver.resolve('src-1', { secret: 'ssm:/nope' });

    // Assess
    expect(error).toBeInstanceOf(SecretNotFoundError);
    expect(error).toMatchObject({ sourceId: 'src-1', reference: 'ssm:/nope' });
    expect(error.message).toBe(
      'secret ssm:/nope does not exist (ParameterNotFound); create it or fix the reference',
    );
    expect(after).toBe('created');
  });

  it('names a missing Secrets Manager secret', async () => {
    // Prepare
    const resolver = new SecretResolver({
      store: countingStore({}),
      ttlMs: 1,
      clock: manualClock(),
    });

    // Act
    const error = await resolver.resolve('s', { secret: 'secretsmanager:gone' }).catch((e) => e);

    // Assess
    expect(error).toBeInstanceOf(SecretNotFoundError);
    expect(error.message).toContain(
      'secret secretsmanager:gone does not exist (ResourceNotFoundException)',
    );
  });

  it.each([
    ['ssm:/locked', 'ssm:GetParameter'],
    ['secretsmanager:locked', 'secretsmanager:GetSecretValue'],
  ])('says which permission %s needs when access is denied', async (secret, permission) => {
    // Prepare
    const store = countingStore(
      { '/locked': 'v' },
      { locked: 'v' },
      { '/locked': 'AccessDeniedException', locked: 'AccessDeniedException' },
    );
    const resolver = new SecretResolver({ store, ttlMs: 60_000, clock: manualClock() });

    // Act
    const error = await resolver.resolve('s', { secret }).catch((e) => e);

    // Assess
    expect(error).toBeInstanceOf(SecretAccessDeniedError);
    expect(error.message).toBe(
      `secret ${secret} is not readable (AccessDeniedException); the collector's role needs ${permission} on it (and kms:Decrypt with a customer managed key)`,
    );
  });

  it('reports another failure with its code, not the service message', async () => {
    // Prepare
    const store = countingStore({}, {}, { '/busy': 'ThrottlingException' });
    const resolver = new SecretResolver({ store, ttlMs: 60_000, clock: manualClock() });

    // Act
    const error = await resolver.resolve('s', { secret: 'ssm:/busy' }).catch((e) => e);

    // Assess
    expect(error).toBeInstanceOf(SecretUnavailableError);
    expect(error.message).toBe(
      'secret ssm:/busy could not be read (ThrottlingException; needs ssm:GetParameter)',
    );
  });

  it.each([
    ['{"user":"alice"}', 'has no JSON key "password"'],
    ['["password"]', 'is not a JSON object, so it has no key "password"'],
    ['{"password":{"nested":true}}', 'has no JSON key "password"'],
    ['not json at all', 'is not a JSON object, so it has no key "password"'],
  ])('fails a missing JSON key of %s without echoing the value', async (value, reason) => {
    // Prepare
    const store = countingStore({}, { partner: value });
    const resolver = new SecretResolver({ store, ttlMs: 60_000, clock: manualClock() });

    // Act
    const error = await resolver
      .resolve('s', { secret: 'secretsmanager:partner', key: 'password' })
      .catch((e) => e);

    // Assess
    expect(error).toBeInstanceOf(SecretKeyMissingError);
    expect(error.message).toBe(`secret secretsmanager:partner ${reason}`);
    expect(error.message).not.toContain('alice');
    expect(error.message).not.toContain('not json');
  });
});

describe('lazySecretStore', () => {
  it('loads its store at the first read only, once for every read after', async () => {
    const loaded = countingStore({ '/api/key': 'k1' }, { 'api/token': 't1' });
    let loads = 0;
    const store = lazySecretStore(async () => {
      loads += 1;
      return loaded;
    });
    expect(loads).toBe(0);

    const values = await Promise.all([
      store.getParameter('/api/key'),
      store.getSecretString('api/token'),
      store.getParameter('/api/key'),
    ]);

    expect(values).toEqual(['k1', 't1', 'k1']);
    expect(loads).toBe(1);
    expect(loaded.reads).toEqual(['/api/key', 'api/token', '/api/key']);
  });

  it('fails the reads of a load that failed, and loads again at the next read', async () => {
    let loads = 0;
    const store = lazySecretStore(async () => {
      loads += 1;
      if (loads === 1) throw awsError('ModuleLoadFailure');
      return countingStore({ '/api/key': 'k1' });
    });

    await expect(store.getParameter('/api/key')).rejects.toMatchObject({
      name: 'ModuleLoadFailure',
    });
    await expect(store.getParameter('/api/key')).resolves.toBe('k1');
    expect(loads).toBe(2);
  });

  it('reaches the resolver as a failure naming the reference', async () => {
    const resolver = new SecretResolver({
      store: lazySecretStore(async () => {
        throw awsError('ModuleLoadFailure');
      }),
      ttlMs: 60_000,
      clock: manualClock(),
    });

    const error = await resolver.resolve('s1', { secret: 'ssm:/api/key' }).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(SecretUnavailableError);
    expect((error as Error).message).toContain('ssm:/api/key');
  });
});

describe('resolveTask', () => {
  function taskOf(source: Record<string, unknown>): CollectorTask {
    const [task] = payload([
      { source: { id: 's1', url: 'https://api.example.test/v1?fmt=json', ...source } },
    ]).tasks;
    if (!task) throw new Error('no task');
    return task;
  }

  it('puts header, query and basic-auth values in a copy, leaving the task as it was', async () => {
    // Prepare
    const store = countingStore(
      { '/t': 'tok', '/q': 'q v&1' },
      { partner: '{"user":"alice","password":"pw"}' },
    );
    const resolver = new SecretResolver({ store, ttlMs: 60_000, clock: manualClock() });
    const task = taskOf({
      headers: { 'X-Token': { secret: 'ssm:/t', prefix: 'T ' }, Accept: 'text/csv' },
      query: { api_key: { secret: 'ssm:/q' }, page: '1' },
      basicAuth: {
        username: { secret: 'secretsmanager:partner', key: 'user' },
        password: { secret: 'secretsmanager:partner', key: 'password' },
      },
    });
    const before = JSON.stringify(task);

    // Act
    const resolved = await resolveTask(task, resolver);

    // Assess
    const basic = Buffer.from('alice:pw').toString('base64');
    expect(resolved.task.source.headers).toEqual({
      'X-Token': 'T tok',
      Accept: 'text/csv',
      Authorization: `Basic ${basic}`,
    });
    expect(resolved.task.source.url).toBe(
      'https://api.example.test/v1?fmt=json&api_key=q+v%261&page=1',
    );
    expect(resolved.task.secretHeaders).toEqual(['X-Token']);
    expect(resolved.task.source).not.toHaveProperty('query');
    expect(resolved.task.source).not.toHaveProperty('basicAuth');
    expect(resolved.secrets).toEqual(expect.arrayContaining(['T tok', 'tok', 'q v&1', basic]));
    expect(JSON.stringify(task)).toBe(before);
  });

  it('lets a source Authorization header win over its basic auth', async () => {
    // Prepare
    const store = countingStore({ '/t': 'tok', '/p': 'pw' });
    const resolver = new SecretResolver({ store, ttlMs: 60_000, clock: manualClock() });
    const task = taskOf({
      headers: { authorization: { secret: 'ssm:/t', prefix: 'Bearer ' } },
      basicAuth: { username: 'u', password: { secret: 'ssm:/p' } },
    });

    // Act
    const resolved = await resolveTask(task, resolver);

    // Assess
    expect(resolved.task.source.headers).toEqual({ authorization: 'Bearer tok' });
  });

  it('returns a task without references as it is, reading nothing', async () => {
    // Prepare
    const store = countingStore({});
    const task = taskOf({ headers: { Accept: 'text/csv' } });

    // Act
    const resolved = await resolveTask(
      task,
      new SecretResolver({ store, ttlMs: 1, clock: manualClock() }),
    );

    // Assess
    expect(resolved.task.source).toEqual(task.source);
    expect(resolved.secrets).toEqual([]);
    expect(store.reads).toEqual([]);
  });

  it('fails a reference when there is no resolver, naming it', async () => {
    // Act
    const error = await resolveTask(
      taskOf({ headers: { Authorization: { secret: 'ssm:/t' } } }),
      undefined,
    ).catch((e) => e);

    // Assess
    expect(error).toBeInstanceOf(SecretReferenceError);
    expect(error.message).toBe('secret ssm:/t cannot be read: no secret store');
  });
});

describe('scrubSecrets', () => {
  it('replaces every occurrence, longest value first', () => {
    expect(scrubSecrets('a Bearer tok and tok', ['tok', 'Bearer tok'])).toBe(
      'a [secret] and [secret]',
    );
  });
});
