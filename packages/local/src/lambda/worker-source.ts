/**
 * The program each worker thread runs: import the bundle once (the cold start),
 * then answer `invoke` messages one at a time with the handler's result.
 *
 * It is kept as source text and started with `eval: true` so that it works the
 * same from TypeScript sources (tests), from the esbuild-bundled CLI and from any
 * install location: no second file has to be found on disk next to this one.
 *
 * Messages to the parent: `ready`, `init-error` {error}, `result` {requestId, ok, body | error}.
 * Errors are described as Lambda's Node.js runtime describes them:
 * {errorType, errorMessage, trace}.
 */
export const WORKER_SOURCE = String.raw`
'use strict';
const { parentPort, workerData } = require('node:worker_threads');

function describe(error) {
  if (error instanceof Error) {
    return {
      errorType: error.name || 'Error',
      errorMessage: error.message,
      trace: typeof error.stack === 'string' ? error.stack.split('\n') : [],
    };
  }
  return { errorType: typeof error, errorMessage: String(error), trace: [] };
}

function describeInitError(error) {
  const described = describe(error);
  if (error instanceof SyntaxError) {
    return { ...described, errorType: 'Runtime.UserCodeSyntaxError' };
  }
  if (error && (error.code === 'ERR_MODULE_NOT_FOUND' || error.code === 'ERR_UNSUPPORTED_DIR_IMPORT')) {
    return { ...described, errorType: 'Runtime.ImportModuleError' };
  }
  return described;
}

let handler;

function callHandler(event, context) {
  // Callback-style handlers (three parameters) are still accepted by nodejs22.x.
  if (handler.length >= 3) {
    return new Promise((resolve, reject) => {
      const returned = handler(event, context, (error, result) => (error ? reject(error) : resolve(result)));
      if (returned && typeof returned.then === 'function') returned.then(resolve, reject);
    });
  }
  return handler(event, context);
}

parentPort.on('message', async (message) => {
  if (!message || message.type !== 'invoke') return;
  const { requestId, payload, deadlineMs, context: fields } = message;
  const context = {
    ...fields,
    awsRequestId: requestId,
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => Math.max(0, deadlineMs - Date.now()),
  };
  try {
    const event = JSON.parse(payload);
    const result = await callHandler(event, context);
    const body = JSON.stringify(result);
    parentPort.postMessage({ type: 'result', requestId, ok: true, body: body === undefined ? 'null' : body });
  } catch (error) {
    parentPort.postMessage({ type: 'result', requestId, ok: false, error: describe(error) });
  }
});

import(workerData.bundleUrl).then(
  (module) => {
    const candidate = module[workerData.handlerExport] ??
      (module.default ? module.default[workerData.handlerExport] : undefined);
    if (typeof candidate !== 'function') {
      parentPort.postMessage({
        type: 'init-error',
        error: {
          errorType: 'Runtime.HandlerNotFound',
          errorMessage: 'index.' + workerData.handlerExport + ' is undefined or not exported',
          trace: [],
        },
      });
      return;
    }
    handler = candidate;
    parentPort.postMessage({ type: 'ready' });
  },
  (error) => parentPort.postMessage({ type: 'init-error', error: describeInitError(error) }),
);
`;
