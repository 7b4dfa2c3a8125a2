// lamina's Node.js runtime: a Lambda Runtime API client using only Node's
// standard library. Started as `node bootstrap.js` with the environment AWS
// gives a function (NODE_PATH included). Loads the handler named by
// _HANDLER from the task root (CommonJS, or ESM for .mjs files and
// "type": "module" packages), then loops over /invocation/next.
'use strict';

const http = require('http');
const path = require('path');
const fs = require('fs');
const url = require('url');

const TASK_ROOT = process.env.LAMBDA_TASK_ROOT || '/var/task';
const [HOST, PORT] = (process.env.AWS_LAMBDA_RUNTIME_API || '127.0.0.1:9001').split(':');
const BASE = '/2018-06-01/runtime';
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

function request(method, p, body, headers) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: HOST, port: Number(PORT), path: BASE + p, method, agent,
      headers: Object.assign({}, headers || {}, body !== undefined ? { 'Content-Length': Buffer.byteLength(body) } : {}) },
    (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

function errorPayload(err, fallbackType) {
  const e = err instanceof Error ? err : new Error(String(err));
  return {
    errorType: (err && err.name && err instanceof Error ? err.name : fallbackType) || 'Error',
    errorMessage: e.message,
    trace: (e.stack || '').split('\n'),
  };
}

async function initError(type, message, err) {
  const body = { errorType: type, errorMessage: message, trace: err && err.stack ? err.stack.split('\n') : [] };
  console.error(`${new Date().toISOString()}\tundefined\tERROR\t${JSON.stringify(body)}`);
  await request('POST', '/init/error', JSON.stringify(body),
    { 'Content-Type': 'application/json', 'Lambda-Runtime-Function-Error-Type': type });
  process.exit(1);
}

function isEsm(file) {
  if (file.endsWith('.mjs')) return true;
  if (file.endsWith('.cjs')) return false;
  let dir = path.dirname(file);
  while (dir.startsWith(TASK_ROOT)) {
    const pkg = path.join(dir, 'package.json');
    if (fs.existsSync(pkg)) {
      try { return JSON.parse(fs.readFileSync(pkg, 'utf8')).type === 'module'; } catch (e) { return false; }
    }
    if (dir === TASK_ROOT) break;
    dir = path.dirname(dir);
  }
  return false;
}

async function loadHandler() {
  const name = process.env._HANDLER || '';
  const dot = name.lastIndexOf('.');
  if (dot <= 0 || dot === name.length - 1) {
    return initError('Runtime.MalformedHandlerName', `Bad handler ${name}`);
  }
  const modulePath = name.slice(0, dot);
  const handlerName = name.slice(dot + 1);
  const base = path.resolve(TASK_ROOT, modulePath);
  const file = ['.js', '.mjs', '.cjs'].map((ext) => base + ext).find((f) => fs.existsSync(f));
  if (!file) {
    return initError('Runtime.ImportModuleError',
      `Error: Cannot find module '${modulePath}'\nRequire stack:\n- /var/runtime/index.mjs`);
  }
  let mod;
  try {
    mod = isEsm(file) ? await import(url.pathToFileURL(file).href) : require(file);
  } catch (err) {
    if (err instanceof SyntaxError) return initError('Runtime.UserCodeSyntaxError', `${err.name}: ${err.message}`, err);
    if (err && err.code === 'MODULE_NOT_FOUND') return initError('Runtime.ImportModuleError', `Error: ${err.message}`, err);
    return initError(err && err.name ? err.name : 'Error', err && err.message ? err.message : String(err), err);
  }
  let handler = mod[handlerName];
  if (handler === undefined && mod.default && typeof mod.default === 'object') handler = mod.default[handlerName];
  if (typeof handler !== 'function') {
    return initError('Runtime.HandlerNotFound', `${modulePath}.${handlerName} is undefined or not exported`);
  }
  return handler;
}

function makeContext(headers) {
  const deadline = Number(headers['lambda-runtime-deadline-ms'] || 0);
  const cc = headers['lambda-runtime-client-context'];
  const ci = headers['lambda-runtime-cognito-identity'];
  return {
    awsRequestId: headers['lambda-runtime-aws-request-id'],
    invokedFunctionArn: headers['lambda-runtime-invoked-function-arn'],
    functionName: process.env.AWS_LAMBDA_FUNCTION_NAME,
    functionVersion: process.env.AWS_LAMBDA_FUNCTION_VERSION,
    memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
    logGroupName: process.env.AWS_LAMBDA_LOG_GROUP_NAME,
    logStreamName: process.env.AWS_LAMBDA_LOG_STREAM_NAME,
    clientContext: cc ? JSON.parse(cc) : undefined,
    identity: ci ? JSON.parse(ci) : undefined,
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
  };
}

function run(handler, event, context) {
  return new Promise((resolve, reject) => {
    let settled = false;
    const callback = (err, result) => {
      if (settled) return;
      settled = true;
      if (err !== undefined && err !== null) reject(err); else resolve(result);
    };
    try {
      const out = handler(event, context, callback);
      if (out && typeof out.then === 'function') out.then((r) => callback(null, r), (e) => callback(e === undefined ? new Error('undefined') : e));
      else if (handler.length < 3) callback(null, out);
    } catch (err) {
      callback(err);
    }
  });
}

(async () => {
  const handler = await loadHandler();
  for (;;) {
    const next = await request('GET', '/invocation/next');
    if (next.status !== 200) continue;
    const id = next.headers['lambda-runtime-aws-request-id'];
    if (next.headers['lambda-runtime-trace-id']) process.env._X_AMZN_TRACE_ID = next.headers['lambda-runtime-trace-id'];
    let event;
    try { event = next.body ? JSON.parse(next.body) : {}; } catch (e) { event = next.body; }
    try {
      const result = await run(handler, event, makeContext(next.headers));
      const body = result === undefined ? 'null' : JSON.stringify(result);
      await request('POST', `/invocation/${id}/response`, body, { 'Content-Type': 'application/json' });
    } catch (err) {
      const payload = errorPayload(err, 'Error');
      console.error(`${new Date().toISOString()}\t${id}\tERROR\tInvoke Error \t${JSON.stringify(payload)}`);
      await request('POST', `/invocation/${id}/error`, JSON.stringify(payload),
        { 'Content-Type': 'application/json', 'Lambda-Runtime-Function-Error-Type': 'Unhandled' });
    }
  }
})();
