import { invokeLoop, managerRun, partRun } from './cases/dispatch-work.js';
import { childMain } from './child.js';

/**
 * Entry of the dispatch case's child processes (`dispatch-child.mjs manager`,
 * `dispatch-child.mjs part <event file>` or
 * `dispatch-child.mjs floor <function> <count> <concurrency> <payloadBytes>`): the caller of
 * the local Invoke endpoint runs in another process than the endpoint, as in AWS.
 */
childMain(async ([work, target, count, concurrency, payloadBytes]) => {
  if (work === 'manager') return managerRun();
  if (work === 'part' && target) return partRun(target);
  if (work === 'floor' && target) {
    return invokeLoop(target, Number(count), Number(concurrency), Number(payloadBytes));
  }
  return undefined;
});
