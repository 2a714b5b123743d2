import { describe, expect, it } from 'vitest';
import { openWorkTarget } from '../../src/commands/cloud-target.js';
import { DEMO_COLLECTOR_TIMEOUT_SECONDS } from '../../src/commands/run.js';
import { removeHome, tempHome } from '../e2e/helpers.js';

const PORTS = { 's3-port': '0', 'lambda-port': '0', 'demo-port': '0' };

describe('the local cloud of replay and reparse', () => {
  it('runs the collector with the timeout `fanout run` uses, and the same override', async () => {
    // Prepare
    const saved = process.env.FANOUT_HOME;
    const home = await tempHome('settings');
    process.env.FANOUT_HOME = home;
    try {
      // Act
      const byDefault = await openWorkTarget(PORTS);
      const defaultTimeout = byDefault.cloud?.topology.functions.collector.timeoutSeconds;
      await byDefault.close();
      const overridden = await openWorkTarget({ ...PORTS, 'collector-timeout': '12' });
      const overriddenTimeout = overridden.cloud?.topology.functions.collector.timeoutSeconds;
      await overridden.close();

      // Assess
      expect(defaultTimeout).toBe(DEMO_COLLECTOR_TIMEOUT_SECONDS);
      expect(overriddenTimeout).toBe(12);
    } finally {
      if (saved === undefined) delete process.env.FANOUT_HOME;
      else process.env.FANOUT_HOME = saved;
      await removeHome(home);
    }
  });
});
