// lamina's Node.js runtime: a Lambda Runtime API client using only Node's
// standard library. Started as `node bootstrap.js` with the environment AWS
// gives a function (NODE_PATH included). Loads the handler named by
// _HANDLER from the task root (CommonJS, or ESM for .mjs files and
// "type": "module" packages), then loops: GET /invocation/next, run the
// handler, POST its response or error. Handlers behave as under AWS's
// runtime: async or callback style, context.callbackWaitsForEmptyEventLoop,
// context.succeed/fail/done, AWS's error payloads and init error types, and
// response streaming (awslambda.streamifyResponse, HttpResponseStream.from).
//
// Kept lean for cold starts and cheap per invoke: HTTP/1.1 is spoken by the
// small client below over one persistent keep-alive socket (no `http`
// module; reads land in one reused buffer instead of going through streams),
// every request is written in one call, and a response is sent together
// with the next /next (pipelined), so that an invoke costs one write.
'use strict';

const fs = require('fs');
const net = require('net');
const path = require('path');
const { isNativeError } = require('util').types;

const env = process.env;
const ADDRESS = env.AWS_LAMBDA_RUNTIME_API || '127.0.0.1:9001';
const TASK_ROOT = env.LAMBDA_TASK_ROOT || '/var/task';
const BASE = '/2018-06-01/runtime';
// fixed for the life of the environment: read once, not per invoke
const FUNCTION_NAME = env.AWS_LAMBDA_FUNCTION_NAME;
const FUNCTION_VERSION = env.AWS_LAMBDA_FUNCTION_VERSION;
const MEMORY_SIZE = env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE;
const LOG_GROUP = env.AWS_LAMBDA_LOG_GROUP_NAME;
const LOG_STREAM = env.AWS_LAMBDA_LOG_STREAM_NAME;

// ---- HTTP/1.1 over one socket ---------------------------------------------

const HEAD_END = Buffer.from('\r\n\r\n');
const CRLF = Buffer.from('\r\n');
const MAX_LINE = 1 << 20;  // a response head or chunk line longer than this is malformed
// what is being read of a response
const HEAD = 0, LENGTH = 1, CHUNK_SIZE = 2, CHUNK_DATA = 3, CHUNK_END = 4, TRAILER = 5, UNTIL_CLOSE = 6;

/** A request as one string: start line, headers, Content-Length when there is a body. */
function request(method, target, headers, body) {
  const head = `${method} ${BASE}${target} HTTP/1.1\r\nHost: ${ADDRESS}\r\n${headers}`;
  return body === undefined ? head + '\r\n' : `${head}Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
}

/**
 * A minimal HTTP/1.1 client for the Runtime API over one keep-alive socket.
 *
 * exchange(requests) writes the requests (strings) in one call and resolves
 * with the response to the last one, as {status, headers, body} with
 * lower-cased header names and the body decoded as UTF-8; the responses to
 * the others are read and dropped. Bodies are delimited by Content-Length,
 * chunked encoding or the end of the connection. When the connection turns
 * out to be dropped, the requests not answered yet are sent once more on a
 * new one. The socket is unref'd between exchanges: it never keeps the
 * process alive while a handler runs (AWS's callbackWaitsForEmptyEventLoop).
 */
class RuntimeApi {
  constructor(address) {
    const colon = address.lastIndexOf(':');
    this.address = address;
    this.host = address.slice(0, colon).replace(/^\[(.*)\]$/, '$1') || '127.0.0.1';
    this.port = Number(address.slice(colon + 1)) || 80;
    this.readBuffer = null;
    this.sock = null;
    this.error = null;      // why the socket failed, if it did
    // the exchange in progress
    this.requests = null;   // written, answered or not; null when idle
    this.answered = 0;
    this.retried = false;
    this.resolve = null;
    this.reject = null;
    // the response being read
    this.state = HEAD;
    this.pending = null;    // bytes of an incomplete head or line, kept from an earlier read
    this.line = '';
    this.status = 0;
    this.headers = null;
    this.keepAlive = true;
    this.need = 0;          // bytes of the body (or chunk) in all
    this.got = 0;           // ... of which read so far into `body`
    this.body = null;
    this.chunks = null;
  }

  connect() {
    if (this.readBuffer === null) this.readBuffer = Buffer.allocUnsafe(64 * 1024);
    const sock = net.connect({
      host: this.host,
      port: this.port,
      onread: { buffer: this.readBuffer, callback: (n, buf) => this.onRead(sock, n, buf) },
    });
    sock.setNoDelay(true);
    sock.on('error', (err) => { this.error = err; });
    sock.on('close', () => this.onClose(sock));
    this.sock = sock;
    this.error = null;
    this.resetResponse();
  }

  /** One exchange at a time: the caller waits for the last before the next. */
  exchange(requests) {
    return new Promise((resolve, reject) => {
      this.requests = requests;
      this.answered = 0;
      this.retried = false;
      this.resolve = resolve;
      this.reject = reject;
      this.send();
    });
  }

  send() {
    if (this.sock !== null && (this.sock.destroyed || this.sock.writableEnded)) this.sock = null;  // closing
    if (this.sock === null) this.connect();
    else this.sock.ref();
    const r = this.requests;
    this.sock.write(r.length === 1 ? r[0] : r.join(''));
  }

  onClose(sock) {
    if (sock !== this.sock) return;  // one given up earlier
    this.sock = null;
    if (this.state === UNTIL_CLOSE && this.requests !== null && this.error === null) {
      return this.complete(Buffer.concat(this.chunks).toString());  // the end of the connection ends the body
    }
    this.resetResponse();
    if (this.requests === null) return;
    if (this.retried) {
      const reject = this.reject;
      this.endExchange();
      reject(this.error || new Error(`the Runtime API at ${this.address} closed the connection`));
      return;
    }
    this.retried = true;  // once more, on a new connection, what is not answered yet
    this.requests = this.requests.slice(this.answered);
    this.answered = 0;
    this.send();
  }

  resetResponse() {
    this.state = HEAD;
    this.pending = this.headers = this.body = this.chunks = null;
  }

  endExchange() {
    this.requests = this.resolve = this.reject = null;
    if (this.sock !== null) this.sock.unref();
  }

  drop(sock, err) {
    this.error = err;
    sock.destroy();  // 'close' follows: onClose sends again or fails the exchange
  }

  /** Bytes [0, n) of `buf`, which the next read reuses: what is kept is copied. */
  onRead(sock, n, buf) {
    if (sock !== this.sock) return;
    let data = buf.subarray(0, n), i = 0;
    if (this.pending !== null) {
      data = Buffer.concat([this.pending, data]);
      n = data.length;
      this.pending = null;
    }
    try {
      while (i < n && this.requests !== null && !sock.destroyed) {
        const next = this.step(data, i, n);
        if (next < 0) {  // an incomplete head or line: wait for more
          if (n - i > MAX_LINE) throw new Error('Runtime API response head too long');
          this.pending = Buffer.from(data.subarray(i, n));
          return;
        }
        i = next;
      }
    } catch (err) {
      this.drop(sock, err);
    }
  }

  /** Reads from data[i, n) as the state asks; returns where it stopped, or -1 to wait for more. */
  step(data, i, n) {
    switch (this.state) {
      case HEAD: {
        const end = data.indexOf(HEAD_END, i);
        if (end < 0) return -1;
        this.parseHead(data.toString('latin1', i, end));
        return this.startBody(end + 4);
      }
      case LENGTH: {
        const k = Math.min(n - i, this.need - this.got);
        if (this.body === null) {
          if (k === this.need) {  // all of it in this read: no copy but the decoding
            this.complete(data.toString('utf8', i, i + k));
            return i + k;
          }
          this.body = Buffer.allocUnsafe(this.need);
          this.got = 0;
        }
        data.copy(this.body, this.got, i, i + k);
        this.got += k;
        if (this.got === this.need) this.complete(this.body.toString());
        return i + k;
      }
      case CHUNK_SIZE: {
        const next = this.readLine(data, i, n);
        if (next < 0) return -1;
        const size = parseInt(this.line, 16);  // (stops at any ";extension")
        if (!(size >= 0)) throw new Error(`bad chunk size from the Runtime API: ${this.line.slice(0, 40)}`);
        if (size === 0) {
          this.state = TRAILER;
        } else {
          this.state = CHUNK_DATA;
          this.need = size;
          this.got = 0;
          this.body = Buffer.allocUnsafe(size);
        }
        return next;
      }
      case CHUNK_DATA: {
        const k = Math.min(n - i, this.need - this.got);
        data.copy(this.body, this.got, i, i + k);
        this.got += k;
        if (this.got === this.need) {
          this.chunks.push(this.body);
          this.body = null;
          this.state = CHUNK_END;
        }
        return i + k;
      }
      case CHUNK_END: {  // the CRLF after a chunk's data
        const next = this.readLine(data, i, n);
        if (next >= 0) this.state = CHUNK_SIZE;
        return next;
      }
      case TRAILER: {  // trailer fields, up to an empty line
        const next = this.readLine(data, i, n);
        if (next >= 0 && this.line === '') this.complete(Buffer.concat(this.chunks).toString());
        return next;
      }
      default: {  // UNTIL_CLOSE
        this.chunks.push(Buffer.from(data.subarray(i, n)));
        return n;
      }
    }
  }

  readLine(data, i, n) {
    const end = data.indexOf(CRLF, i);
    if (end < 0) return -1;
    this.line = data.toString('latin1', i, end);
    return end + 2;
  }

  parseHead(text) {
    const lines = text.split('\r\n');
    const start = lines[0];
    const status = Number(start.slice(9, 12));
    if (!start.startsWith('HTTP/1.') || start[8] !== ' ' || !(status >= 100)) {
      throw new Error(`malformed Runtime API response: ${JSON.stringify(start.slice(0, 80))}`);
    }
    const headers = {};
    for (let k = 1; k < lines.length; k++) {
      const line = lines[k];
      const colon = line.indexOf(':');
      if (colon > 0) headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
    }
    const connection = (headers.connection || '').toLowerCase();
    this.keepAlive = start[7] === '0' ? connection.includes('keep-alive') : !connection.includes('close');
    this.status = status;
    this.headers = headers;
  }

  startBody(at) {
    const status = this.status, headers = this.headers;
    if (status < 200) {  // an interim response (100 Continue): the real one follows
      this.headers = null;
      return at;
    }
    const length = headers['content-length'];
    if (status === 204 || status === 304) {
      this.complete('');
    } else if (headers['transfer-encoding'] !== undefined && headers['transfer-encoding'].toLowerCase().includes('chunked')) {
      this.state = CHUNK_SIZE;
      this.chunks = [];
    } else if (length !== undefined) {
      const n = Number(length);
      if (!(n >= 0)) throw new Error(`bad Content-Length from the Runtime API: ${length}`);
      if (n === 0) {
        this.complete('');
      } else {
        this.state = LENGTH;
        this.need = n;
        this.got = 0;
        this.body = null;
      }
    } else {
      this.state = UNTIL_CLOSE;
      this.chunks = [];
    }
    return at;
  }

  /** One response read in full: the last of the exchange is its answer. */
  complete(body) {
    const response = { status: this.status, headers: this.headers, body };
    const keepAlive = this.keepAlive;
    this.resetResponse();
    if (!keepAlive && this.sock !== null) {  // the server ends this connection: the rest goes on a new one
      this.sock.destroy();
      this.sock = null;
    }
    if (++this.answered < this.requests.length) {
      if (this.sock === null) {
        this.requests = this.requests.slice(this.answered);
        this.answered = 0;
        this.send();
      }
      return;
    }
    const resolve = this.resolve;
    this.endExchange();
    resolve(response);
  }
}

// ---- the handler --------------------------------------------------------------

function isError(value) {
  return isNativeError(value) || value instanceof Error || (typeof value === 'object' && value !== null &&
    typeof value.name === 'string' && typeof value.message === 'string' && typeof value.stack === 'string');
}

function runtimeError(name, message) {
  const err = new Error(message);
  err.name = name;
  return err;
}

/** AWS's payload for an error (or any value thrown or passed to a callback). */
function errorPayload(err) {
  try {
    if (isError(err)) {
      return { errorType: err.name, errorMessage: err.message,
               trace: typeof err.stack === 'string' ? err.stack.split('\n') : [] };
    }
    return { errorType: typeof err, errorMessage: String(err), trace: [] };
  } catch (e) {
    return { errorType: 'handled', errorMessage: 'callback called with Error argument, but there was a problem ' +
             'while retrieving one or more of its message, name, and stack' };
  }
}

const api = new RuntimeApi(ADDRESS);
let ready = false;     // the handler is loaded: init is over
let current = null;    // the request id of the invoke whose outcome is not sent yet
let currentTenant;     // its tenant (tenant isolation; undefined for other functions)

// ---- console, as AWS's runtime formats it (LoggingConfig) ------------------
// Text: "<ISO time>\t<request id>\t<LEVEL>\t<message>". JSON: one object per call
// ({timestamp, level, requestId, message}, with errorType, errorMessage and
// stackTrace when an argument is an Error); calls below AWS_LAMBDA_LOG_LEVEL
// do nothing.
const JSON_LOGS = (env.AWS_LAMBDA_LOG_FORMAT || '').toUpperCase() === 'JSON';
const LEVELS = { TRACE: 0, DEBUG: 1, INFO: 2, WARN: 3, ERROR: 4, FATAL: 5 };
const MIN_LEVEL = JSON_LOGS ? (LEVELS[(env.AWS_LAMBDA_LOG_LEVEL || '').toUpperCase()] ?? LEVELS.INFO) : 0;
const { format } = require('util');

function logRecord(level, args) {
  const requestId = current === null ? 'undefined' : current;
  if (!JSON_LOGS) return `${new Date().toISOString()}\t${requestId}\t${level}\t${format(...args)}\n`;
  const record = currentTenant === undefined
    ? { timestamp: new Date().toISOString(), level, requestId, message: format(...args) }
    : { timestamp: new Date().toISOString(), level, requestId, tenantId: currentTenant, message: format(...args) };
  const err = args.find((a) => a instanceof Error || isNativeError(a));
  if (err) {
    record.errorType = err.constructor && err.constructor.name ? err.constructor.name : err.name;
    record.errorMessage = err.message;
    record.stackTrace = typeof err.stack === 'string' ? err.stack.split('\n') : [];
  }
  try {
    return JSON.stringify(record) + '\n';
  } catch (e) {  // a circular argument: as text, as the message already is
    return JSON.stringify({ ...record, stackTrace: undefined }) + '\n';
  }
}

for (const [method, level] of [['trace', 'TRACE'], ['debug', 'DEBUG'], ['info', 'INFO'], ['log', 'INFO'],
  ['warn', 'WARN'], ['error', 'ERROR'], ['fatal', 'FATAL']]) {
  console[method] = LEVELS[level] < MIN_LEVEL ? () => {} : (...args) => process.stdout.write(logRecord(level, args));
}

// The runtime's own error records: Text "<time>\t<id>\tERROR\t<what> \t<payload JSON>", or in
// JSON one record with the error's fields.
function log(requestId, what, payload) {
  if (!JSON_LOGS) {
    process.stdout.write(`${new Date().toISOString()}\t${requestId}\tERROR\t${what} \t${JSON.stringify(payload)}\n`);
    return;
  }
  process.stdout.write(JSON.stringify({
    timestamp: new Date().toISOString(), level: 'ERROR', requestId, message: what,
    errorType: payload.errorType, errorMessage: payload.errorMessage, stackTrace: payload.trace || [],
  }) + '\n');
}

async function initError(type, message, err) {
  const payload = { errorType: type, errorMessage: message, trace: err && typeof err.stack === 'string' ? err.stack.split('\n') : [] };
  log('undefined', 'Uncaught Exception', payload);
  await api.exchange([request('POST', '/init/error', `Content-Type: application/json\r\nLambda-Runtime-Function-Error-Type: ${type}\r\n`,
                              JSON.stringify(payload))]);
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

/** `module.nested.name` as AWS reads a handler: the module is up to the first dot of the file name. */
async function loadHandler() {
  const name = env._HANDLER || '';
  if (name.includes('..')) {
    return initError('Runtime.MalformedHandlerName',
      `'${name}' is not a valid handler name. Use absolute paths when specifying root directories in handler names.`);
  }
  const slash = name.lastIndexOf('/');
  const dot = name.indexOf('.', slash + 1);
  if (dot <= slash + 1 || dot === name.length - 1) return initError('Runtime.MalformedHandlerName', `Bad handler ${name}`);
  const modulePath = name.slice(0, dot);
  const base = path.resolve(TASK_ROOT, modulePath);
  const file = ['.js', '.mjs', '.cjs'].map((ext) => base + ext).find((f) => fs.existsSync(f));
  if (!file) {
    return initError('Runtime.ImportModuleError',
      `Error: Cannot find module '${modulePath}'\nRequire stack:\n- /var/runtime/index.mjs`);
  }
  let mod;
  try {
    mod = isEsm(file) ? await import(require('url').pathToFileURL(file).href) : require(file);
  } catch (err) {
    if (err instanceof SyntaxError) return initError('Runtime.UserCodeSyntaxError', String(err), err);
    if (err && (err.code === 'MODULE_NOT_FOUND' || err.code === 'ERR_MODULE_NOT_FOUND')) {
      return initError('Runtime.ImportModuleError', String(err), err);
    }
    const payload = errorPayload(err);
    return initError(payload.errorType, payload.errorMessage, err);
  }
  const keys = name.slice(dot + 1).split('.');
  const find = (obj) => keys.reduce((o, k) => (o === undefined || o === null ? undefined : o[k]), obj);
  let handler = find(mod);
  if (handler === undefined && mod.default && typeof mod.default === 'object') handler = find(mod.default);
  if (handler === undefined || handler === null) {
    return initError('Runtime.HandlerNotFound', `${name} is undefined or not exported`);
  }
  if (typeof handler !== 'function') return initError('Runtime.HandlerNotFound', `${name} is not a function`);
  return handler;
}

function parseJsonHeader(value, what) {
  if (!value) return undefined;
  try {
    // header bytes were read as latin-1: back to bytes, read as UTF-8
    return JSON.parse(Buffer.from(value, 'latin1').toString());
  } catch (err) {
    throw new Error(`Cannot parse ${what} as json: ${err}`);
  }
}

function responseRequest(id, result) {
  let body;
  try {
    body = JSON.stringify(result === undefined ? null : result);
  } catch (err) {
    // AWS's message; the trace tells what could not be serialized
    const payload = { errorType: 'Error', errorMessage: 'Unable to stringify response body', trace: errorPayload(err).trace };
    log(id, 'Invoke Error', payload);
    return errorRequest(id, payload);
  }
  return request('POST', `/invocation/${id}/response`, 'Content-Type: application/json\r\n', body === undefined ? 'null' : body);
}

function errorRequest(id, payload) {
  return request('POST', `/invocation/${id}/error`,
    'Content-Type: application/json\r\nLambda-Runtime-Function-Error-Type: Unhandled\r\n', JSON.stringify(payload));
}

// What to do once the event loop runs dry during an invoke (AWS's beforeExit
// listener): send the result a callback gave, or end an invoke nobody ended.
let whenIdle = null;
process.on('beforeExit', () => {
  const fn = whenIdle;
  whenIdle = null;
  if (fn !== null) setImmediate(fn);
});

/**
 * Runs one invoke; resolves with the request that reports its outcome. Only
 * the first of callback / context.succeed, fail, done / a returned promise
 * counts. A callback's result waits for the event loop to empty unless
 * context.callbackWaitsForEmptyEventLoop is false; errors are sent at once.
 */
function invoke(handler, isAsync, next) {
  const headers = next.headers;
  const id = headers['lambda-runtime-aws-request-id'] || '';
  const trace = headers['lambda-runtime-trace-id'];
  if (trace) env._X_AMZN_TRACE_ID = trace;
  else if (env._X_AMZN_TRACE_ID !== undefined) delete env._X_AMZN_TRACE_ID;
  current = id;
  currentTenant = headers['lambda-runtime-aws-tenant-id'];
  return new Promise((resolve) => {
    let finished = false;
    let context;
    const done = (err, result) => {
      if (finished) return;
      finished = true;
      whenIdle = null;
      if (err === undefined || err === null) {
        resolve(responseRequest(id, result));
      } else {
        const payload = errorPayload(err);
        log(id, 'Invoke Error', payload);
        resolve(errorRequest(id, payload));
      }
    };
    const fail = (err) => done(err === undefined || err === null ? 'handled' : err);
    const callback = (err, result) => {
      if (finished) return;
      if ((err !== undefined && err !== null) || !context.callbackWaitsForEmptyEventLoop) return done(err, result);
      finished = true;
      whenIdle = () => resolve(responseRequest(id, result));
    };
    // until one of them is called: an async handler's promise can no longer
    // settle once the event loop is empty (AWS's Runtime.NodeJsExit), a
    // plain function's response is null
    whenIdle = isAsync
      ? () => done(runtimeError('Runtime.NodeJsExit', 'The Lambda runtime client detected an unexpected Node.js exit ' +
          'code. This is most commonly caused by a Promise that was never settled.'))
      : () => done(null, null);
    try {
      const deadline = Number(headers['lambda-runtime-deadline-ms']) || 0;
      // (callbackWaitsForEmptyEventLoop is a data property, not a getter and
      // setter as in AWS's runtime: a literal with accessors is created in
      // dictionary mode, and with it each invoke's garbage got promoted to
      // the old generation: young collections took milliseconds, not µs)
      context = {
        callbackWaitsForEmptyEventLoop: true,
        succeed: (result) => done(null, result),
        fail,
        done,
        functionVersion: FUNCTION_VERSION,
        functionName: FUNCTION_NAME,
        memoryLimitInMB: MEMORY_SIZE,
        logGroupName: LOG_GROUP,
        logStreamName: LOG_STREAM,
        clientContext: parseJsonHeader(headers['lambda-runtime-client-context'], 'ClientContext'),
        identity: parseJsonHeader(headers['lambda-runtime-cognito-identity'], 'CognitoIdentity'),
        invokedFunctionArn: headers['lambda-runtime-invoked-function-arn'],
        awsRequestId: id,
        tenantId: currentTenant,
        getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
      };
      const event = parseEvent(next.body);
      const out = handler(event, context, callback);
      if (out !== null && (typeof out === 'object' || typeof out === 'function') && typeof out.then === 'function') {
        out.then((result) => done(null, result), fail);
      } else if (out !== undefined && handler.length < 3) {
        done(null, out);  // a plain function's return value is its response (AWS would send null)
      }
    } catch (err) {
      done(err);
    }
  });
}

function parseEvent(body) {
  if (!body) return {};
  try { return JSON.parse(body); } catch (e) { return body; }
}

// ---- response streaming ---------------------------------------------------------
// awslambda.streamifyResponse(handler) marks a handler that writes its answer
// to a stream: (event, responseStream, context). The stream is a Writable
// (pipeline and backpressure work as for any Writable) whose bytes go to the
// Runtime API as they are written: a POST in streaming mode, chunked, with the
// error in trailers when the handler fails after it began.

const STREAMING = Symbol.for('aws.lambda.runtime.handler.streaming');
const HTTP_INTEGRATION = 'application/vnd.awslambda.http-integration-response';
const PRELUDE_END = Buffer.alloc(8);  // 8 NULs end an HTTP prelude

class HttpResponseStream {
  /** The stream, answering as an HTTP response: `prelude` ({statusCode, headers, cookies}) goes first. */
  static from(stream, prelude) {
    stream.setContentType(HTTP_INTEGRATION);
    stream.setPrelude(prelude);
    return stream;
  }
}

globalThis.awslambda = {
  streamifyResponse(handler) {
    handler[STREAMING] = 'response';
    return handler;
  },
  HttpResponseStream,
};

// The streaming POSTs go over one kept-alive connection (unref'd while idle,
// so it never holds the process up): a stream's first bytes leave without a
// TCP handshake first.
let streamAgent = null;

/** The responseStream of one invoke; `finished` resolves with the Runtime API's answer. */
function responseStream(id) {
  const { Writable } = require('stream');
  const http = require('http');
  if (streamAgent === null) streamAgent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  let contentType = 'application/octet-stream';
  let prelude = null;
  let post = null;
  let answered;
  const finished = new Promise((resolve) => { answered = resolve; });
  // the POST starts at the first write (or the end): its Content-Type is known by then
  const open = () => {
    if (post !== null) return post;
    post = http.request({
      host: api.host, port: api.port, method: 'POST', path: `${BASE}/invocation/${id}/response`, agent: streamAgent,
      headers: {
        'Content-Type': contentType,
        'Lambda-Runtime-Function-Response-Mode': 'streaming',
        'Transfer-Encoding': 'chunked',
        'Trailer': 'Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body',
      },
    });
    post.on('response', (res) => { res.resume(); res.on('end', () => answered(res.statusCode)); });
    post.setNoDelay(true);
    post.on('error', (err) => answered(err));
    if (prelude !== null) {
      post.write(prelude);
      post.write(PRELUDE_END);
      prelude = null;
    }
    return post;
  };
  const stream = new Writable({
    write(chunk, encoding, callback) { open().write(chunk, encoding, callback); },
    final(callback) {
      const p = open();
      if (stream.errorTrailers) p.addTrailers(stream.errorTrailers);
      p.end();
      callback();
    },
  });
  stream.setContentType = (type) => {
    if (post !== null) throw new Error('The content type cannot be set after the first write');
    contentType = String(type);
  };
  stream.setPrelude = (value) => {
    if (post !== null) throw new Error('The prelude cannot be set after the first write');
    prelude = JSON.stringify(value === undefined ? {} : value);
  };
  stream.errorTrailers = null;
  /** Ends the POST with the error in its trailers (the stream may be destroyed by then). */
  stream.failWith = (payload) => {
    stream.errorTrailers = {
      'Lambda-Runtime-Function-Error-Type': payload.errorType,
      'Lambda-Runtime-Function-Error-Body': Buffer.from(JSON.stringify(payload)).toString('base64'),
    };
    if (!stream.destroyed && !stream.writableEnded) return stream.end();
    const p = open();
    if (!p.writableEnded) {
      p.addTrailers(stream.errorTrailers);
      p.end();
    }
  };
  stream.finished = finished;
  return stream;
}

/** Runs one invoke of a streaming handler; resolves once the Runtime API has its whole answer. */
async function invokeStreaming(handler, next) {
  const headers = next.headers;
  const id = headers['lambda-runtime-aws-request-id'] || '';
  const trace = headers['lambda-runtime-trace-id'];
  if (trace) env._X_AMZN_TRACE_ID = trace;
  else if (env._X_AMZN_TRACE_ID !== undefined) delete env._X_AMZN_TRACE_ID;
  current = id;
  currentTenant = headers['lambda-runtime-aws-tenant-id'];
  const stream = responseStream(id);
  try {
    const deadline = Number(headers['lambda-runtime-deadline-ms']) || 0;
    const context = {
      callbackWaitsForEmptyEventLoop: true,
      functionVersion: FUNCTION_VERSION,
      functionName: FUNCTION_NAME,
      memoryLimitInMB: MEMORY_SIZE,
      logGroupName: LOG_GROUP,
      logStreamName: LOG_STREAM,
      clientContext: parseJsonHeader(headers['lambda-runtime-client-context'], 'ClientContext'),
      identity: parseJsonHeader(headers['lambda-runtime-cognito-identity'], 'CognitoIdentity'),
      invokedFunctionArn: headers['lambda-runtime-invoked-function-arn'],
      awsRequestId: id,
      tenantId: currentTenant,
      getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    };
    await handler(parseEvent(next.body), stream, context);
    if (!stream.destroyed && !stream.writableEnded) stream.end();
  } catch (err) {
    const payload = errorPayload(err);
    log(id, 'Invoke Error', payload);
    stream.failWith(payload);
  }
  await stream.finished;
}

// An exception nobody caught, or a rejection nobody handled: as AWS's
// runtime, report it for the invoke in hand (or the init) and exit.
let crashing = false;
function crash(what, payload, code) {
  log(current === null ? 'undefined' : current, what, payload);
  if (crashing) return;
  crashing = true;
  const target = !ready ? '/init/error' : current !== null ? `/invocation/${current}/error` : null;
  if (target === null) return process.exit(code);  // between invokes: nothing to report it for
  const type = ready ? 'Unhandled' : payload.errorType;
  // on a connection of its own: the runtime's may be in the middle of a request
  new RuntimeApi(ADDRESS).exchange([request('POST', target,
    `Content-Type: application/json\r\nLambda-Runtime-Function-Error-Type: ${type}\r\n`, JSON.stringify(payload))])
    .then(() => process.exit(code), () => process.exit(code));
}

process.on('uncaughtException', (err) => crash('Uncaught Exception', errorPayload(err), 129));
process.on('unhandledRejection', (reason) => {
  let message;
  try { message = String(reason); } catch (e) { message = typeof reason; }
  const first = `Runtime.UnhandledPromiseRejection: ${message}`;
  const trace = errorPayload(reason).trace;
  crash('Unhandled Promise Rejection', { errorType: 'Runtime.UnhandledPromiseRejection', errorMessage: message,
    trace: trace && trace.length ? [first, ...trace.slice(1)] : [first] }, 128);
});

async function main() {
  if (process.argv.includes('--spare')) {
    // A spare environment, started ahead of any invocation: this runtime is
    // loaded and connected; the function's code is loaded (its init runs)
    // only once lamina hands it an invocation and answers this.
    const held = await api.exchange([request('GET', '/_lamina/spare/hold', '')]);
    if (held.status !== 202) process.exit(1);  // let go without an invocation: nothing of the function runs
    process.argv.splice(process.argv.indexOf('--spare'), 1);
  } else {
    api.connect();  // while the handler loads
  }
  const handler = await loadHandler();
  const isAsync = handler.constructor !== undefined && handler.constructor.name === 'AsyncFunction';
  const streaming = handler[STREAMING] === 'response';
  const NEXT = request('GET', '/invocation/next', '');
  // a turn of the event loop first: rejections the module's init left
  // unhandled surface now, as init errors
  await new Promise((resolve) => setImmediate(resolve));
  if (crashing) return;
  ready = true;
  let next = await api.exchange([NEXT]);
  for (;;) {
    if (next.status !== 200) {
      await new Promise((resolve) => setTimeout(resolve, 10));
      next = await api.exchange([NEXT]);
      continue;
    }
    if (streaming) {
      await invokeStreaming(handler, next);
      if (crashing) return;
      current = null;
      next = await api.exchange([NEXT]);
      continue;
    }
    const outcome = await invoke(handler, isAsync, next);
    if (crashing) return;  // crash() reports this invoke
    current = null;
    next = await api.exchange([outcome, NEXT]);  // the outcome, and at once the next /next
  }
}

main().catch((err) => {
  process.stderr.write(`${new Date().toISOString()}\tundefined\tERROR\tlamina runtime: ${err && err.stack ? err.stack : err}\n`);
  process.exit(1);
});
