import { type FunctionId, type FunctionSpec, type Topology, topology } from '@fanout/shared';
import type { StackConfig } from './config.js';

/**
 * The shared topology with this stack's overrides applied. Everything the
 * program derives (limits, environment, permissions) comes from this one value,
 * so an override of, say, the collector timeout also reaches the manager's
 * FANOUT_COLLECTOR_TIMEOUT_MS.
 */
export function stackTopology(config: StackConfig, base: Topology = topology): Topology {
  const withOverrides = <K extends FunctionId>(spec: FunctionSpec & { readonly id: K }) => ({
    ...spec,
    runtime: config.runtime,
    architecture: config.architecture,
    memoryMb: config.functions[spec.id].memoryMb,
    timeoutSeconds: config.functions[spec.id].timeoutSeconds,
    reservedConcurrency: config.functions[spec.id].reservedConcurrency,
    ephemeralStorageMb: config.functions[spec.id].ephemeralStorageMb,
  });
  return {
    ...base,
    schedule: { ...base.schedule, expression: config.schedule.expression },
    functions: {
      manager: withOverrides(base.functions.manager),
      collector: withOverrides(base.functions.collector),
      parser: withOverrides(base.functions.parser),
    },
  };
}
