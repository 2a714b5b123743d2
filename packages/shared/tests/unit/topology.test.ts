import { describe, expect, it } from 'vitest';
import {
  ASYNC_INVOKE_PAYLOAD_LIMIT_BYTES,
  ASYNC_MAX_EVENT_AGE_SECONDS,
  ASYNC_MAX_RETRY_ATTEMPTS,
  ASYNC_MIN_EVENT_AGE_SECONDS,
  DEPRECATED_RUNTIMES,
  type DeployedNames,
  ENV,
  FUNCTION_IDS,
  type FunctionId,
  functionEnvironment,
  functionsReachableFromNotification,
  INVALID_EVENTS_PREFIX,
  LAMBDA_MAX_MEMORY_MB,
  LAMBDA_MAX_TIMEOUT_SECONDS,
  LAMBDA_MIN_MEMORY_MB,
  manifestKey,
  PREFIXES,
  prefixesOverlap,
  recursiveTriggerRisks,
  SUPPORTED_RUNTIMES,
  sourceStateKey,
  type Topology,
  topology,
} from '../../src/index.js';

const NAMES: DeployedNames = {
  bucket: 'fanout-data-dev',
  functions: {
    manager: 'fanout-manager-dev',
    collector: 'fanout-collector-dev',
    parser: 'fanout-parser-dev',
  },
};

const ALL_PREFIXES: readonly string[] = Object.values(PREFIXES);

/** A copy of the topology with one function changed, for negative tests. */
function withFunction(
  id: FunctionId,
  change: Partial<Topology['functions'][FunctionId]>,
): Topology {
  return {
    ...topology,
    functions: { ...topology.functions, [id]: { ...topology.functions[id], ...change } },
  };
}

describe('no S3 -> Lambda loop', () => {
  it('the notification prefix is disjoint from every prefix the notified functions write', () => {
    // Act
    const risks = recursiveTriggerRisks();

    // Assess
    expect(risks).toEqual([]);
    for (const id of functionsReachableFromNotification()) {
      for (const written of topology.functions[id].writes) {
        expect(prefixesOverlap(written, topology.notification.prefix)).toBe(false);
      }
    }
  });

  it('notifies the parser alone, and the parser invokes nothing', () => {
    expect(topology.notification.function).toBe('parser');
    expect(functionsReachableFromNotification()).toEqual(['parser']);
  });

  it('detects a parser that writes raw/', () => {
    // Prepare
    const broken = withFunction('parser', {
      writes: [...topology.functions.parser.writes, PREFIXES.raw],
    });

    // Act
    const risks = recursiveTriggerRisks(broken);

    // Assess
    expect(risks).toEqual(['parser is started by the raw/ notification and writes raw/']);
  });

  it('detects a loop through an invocation: the parser invoking the collector', () => {
    // Prepare
    const broken = withFunction('parser', { invokes: ['collector'] });

    // Act
    const risks = recursiveTriggerRisks(broken);

    // Assess
    expect(functionsReachableFromNotification(broken).sort()).toEqual(['collector', 'parser']);
    expect(risks).toEqual(['collector is started by the raw/ notification and writes raw/']);
  });

  it('detects a notification prefix nested inside a written prefix', () => {
    // Prepare
    const broken: Topology = {
      ...topology,
      notification: { ...topology.notification, prefix: 'parsed/source=a/' },
    };

    // Act
    const risks = recursiveTriggerRisks(broken);

    // Assess
    expect(risks).toEqual([
      'parser is started by the parsed/source=a/ notification and writes parsed/',
    ]);
  });

  it.each([
    ['raw/', 'raw/', true],
    ['raw/', 'raw/source=a/', true],
    ['raw/source=a/', 'raw/', true],
    ['raw/', 'parsed/', false],
    ['raw/', 'runs/', false],
    ['runs/', 'runs/_invalid/', true],
  ])('prefixesOverlap(%j, %j) is %s', (a, b, overlap) => {
    expect(prefixesOverlap(a, b)).toBe(overlap);
  });

  it('triggers on object creation only, under raw/', () => {
    expect(topology.notification.events).toEqual(['s3:ObjectCreated:*']);
    expect(topology.notification.prefix).toBe(PREFIXES.raw);
  });

  it('keeps the top-level prefixes disjoint from each other', () => {
    for (const a of ALL_PREFIXES) {
      for (const b of ALL_PREFIXES) {
        if (a !== b) expect(prefixesOverlap(a, b), `${a} and ${b}`).toBe(false);
      }
    }
  });
});

describe('function specs', () => {
  it('lists every function once, under its own id', () => {
    expect([...FUNCTION_IDS].sort()).toEqual(Object.keys(topology.functions).sort());
    for (const id of FUNCTION_IDS) expect(topology.functions[id].id).toBe(id);
  });

  it.each(FUNCTION_IDS)('%s reads and writes only layout prefixes', (id) => {
    const spec = topology.functions[id];
    for (const prefix of [...spec.reads, ...spec.writes]) expect(ALL_PREFIXES).toContain(prefix);
  });

  it.each(FUNCTION_IDS)('%s runs on a supported, not deprecated runtime', (id) => {
    // Prepare
    const { runtime } = topology.functions[id];

    // Assess
    expect(SUPPORTED_RUNTIMES).toContain(runtime);
    expect(DEPRECATED_RUNTIMES as readonly string[]).not.toContain(runtime);
  });

  it.each(FUNCTION_IDS)('%s stays within the Lambda limits', (id) => {
    // Prepare
    const spec = topology.functions[id];

    // Assess
    expect(spec.timeoutSeconds).toBeGreaterThan(0);
    expect(spec.timeoutSeconds).toBeLessThanOrEqual(LAMBDA_MAX_TIMEOUT_SECONDS);
    expect(spec.memoryMb).toBeGreaterThanOrEqual(LAMBDA_MIN_MEMORY_MB);
    expect(spec.memoryMb).toBeLessThanOrEqual(LAMBDA_MAX_MEMORY_MB);
    expect(Number.isInteger(spec.reservedConcurrency)).toBe(true);
    expect(spec.reservedConcurrency).toBeGreaterThan(0);
    expect(spec.async.maxRetryAttempts).toBeGreaterThanOrEqual(0);
    expect(spec.async.maxRetryAttempts).toBeLessThanOrEqual(ASYNC_MAX_RETRY_ATTEMPTS);
    expect(spec.async.maxEventAgeSeconds).toBeGreaterThanOrEqual(ASYNC_MIN_EVENT_AGE_SECONDS);
    expect(spec.async.maxEventAgeSeconds).toBeLessThanOrEqual(ASYNC_MAX_EVENT_AGE_SECONDS);
  });

  it.each(FUNCTION_IDS)('%s deploys the esbuild bundle handler of its package', (id) => {
    // Prepare
    const spec = topology.functions[id];

    // Assess
    expect(spec.handler).toBe('index.handler');
    expect(spec.packageDir).toBe(`packages/${id}`);
  });

  it('lets each function write what the layout says it writes', () => {
    expect(topology.functions.collector.writes).toContain(PREFIXES.raw);
    expect(topology.functions.parser.writes).toEqual(
      expect.arrayContaining([PREFIXES.parsed, PREFIXES.quarantine, PREFIXES.runs]),
    );
    // The state travels in each run manifest; the manager writes state/ only for the
    // off-schedule log (a manual run logs itself), and nothing else does.
    expect(topology.functions.manager.writes).toEqual([PREFIXES.runs, PREFIXES.state]);
    expect(
      Object.values(topology.functions)
        .filter((f) => f.id !== 'manager')
        .flatMap((f) => f.writes),
    ).not.toContain(PREFIXES.state);
    expect(topology.functions.manager.reads).toEqual(
      expect.arrayContaining([PREFIXES.manifest, PREFIXES.state, PREFIXES.runs, PREFIXES.raw]),
    );
    expect(topology.functions.parser.reads).toContain(PREFIXES.raw);
  });

  it('keeps the fixed keys inside the prefixes their functions use', () => {
    expect(manifestKey().startsWith(PREFIXES.manifest)).toBe(true);
    expect(sourceStateKey().startsWith(PREFIXES.state)).toBe(true);
    expect(INVALID_EVENTS_PREFIX.startsWith(PREFIXES.runs)).toBe(true);
  });

  it('lets the manager invoke collectors, which may continue themselves', () => {
    expect(topology.functions.manager.invokes).toContain('collector');
    expect(topology.functions.collector.invokes).toEqual(['collector']);
  });
});

describe('limits and schedule', () => {
  it('caps an invocation payload at the AWS async limit of 1 MB', () => {
    expect(topology.payloadLimitBytes).toBe(ASYNC_INVOKE_PAYLOAD_LIMIT_BYTES);
    expect(ASYNC_INVOKE_PAYLOAD_LIMIT_BYTES).toBe(1_048_576);
  });

  it('schedules the manager with a valid rate or cron expression', () => {
    expect(topology.schedule.target).toBe('manager');
    expect(topology.schedule.expression).toMatch(
      /^(rate\((1 (minute|hour|day)|([2-9]|[1-9]\d+) (minutes|hours|days))\)|cron\((\S+ ){5}\S+\))$/,
    );
  });

  it('runs at least one fetch per collector invocation', () => {
    expect(Number.isInteger(topology.collectorConcurrency)).toBe(true);
    expect(topology.collectorConcurrency).toBeGreaterThan(0);
  });
});

describe('functionEnvironment', () => {
  it.each(FUNCTION_IDS)('gives %s the bucket, its service name and the metrics namespace', (id) => {
    // Act
    const env = functionEnvironment(id, NAMES);

    // Assess
    expect(env[ENV.bucket]).toBe('fanout-data-dev');
    expect(env[ENV.serviceName]).toBe(topology.functions[id].name);
    expect(env[ENV.metricsNamespace]).toBe('Fanout');
  });

  it.each(['manager', 'collector'] as const)('gives %s the collector function name', (id) => {
    expect(functionEnvironment(id, NAMES)[ENV.collectorFunction]).toBe('fanout-collector-dev');
  });

  it('gives the manager what it needs to plan and fan out', () => {
    // Act
    const env = functionEnvironment('manager', NAMES);

    // Assess
    expect(env).toMatchObject({
      [ENV.manifestKey]: 'manifest/sources.json',
      [ENV.managerFunction]: 'fanout-manager-dev',
      [ENV.payloadLimitBytes]: String(ASYNC_INVOKE_PAYLOAD_LIMIT_BYTES),
      [ENV.collectorTimeoutMs]: String(topology.functions.collector.timeoutSeconds * 1000),
      [ENV.collectorMaxParallel]: String(topology.functions.collector.reservedConcurrency),
      [ENV.collectorConcurrency]: String(topology.collectorConcurrency),
    });
  });

  it('gives the collector the payload limit and its concurrency', () => {
    expect(functionEnvironment('collector', NAMES)).toMatchObject({
      [ENV.payloadLimitBytes]: String(ASYNC_INVOKE_PAYLOAD_LIMIT_BYTES),
      [ENV.collectorConcurrency]: String(topology.collectorConcurrency),
    });
  });

  it('gives the parser no function names: it invokes nothing', () => {
    // Act
    const env = functionEnvironment('parser', NAMES);

    // Assess
    expect(env).not.toHaveProperty(ENV.collectorFunction);
    expect(env).not.toHaveProperty(ENV.managerFunction);
  });

  it.each(FUNCTION_IDS)('gives %s only non-empty string values', (id) => {
    for (const [name, value] of Object.entries(functionEnvironment(id, NAMES))) {
      expect(typeof value, name).toBe('string');
      expect(value.length, name).toBeGreaterThan(0);
    }
  });

  it('follows a changed topology, so infra and the local cloud cannot drift', () => {
    // Prepare
    const changed: Topology = { ...topology, payloadLimitBytes: 262_144 };

    // Act
    const env = functionEnvironment('manager', NAMES, changed);

    // Assess
    expect(env[ENV.payloadLimitBytes]).toBe('262144');
  });
});
