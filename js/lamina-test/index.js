'use strict';
// lamina-test: a lamina server (a local AWS Lambda emulator) for node:test and Jest.
// Node 20's built-ins only (child_process, fetch); the AWS SDK is not needed, but clients
// made by the code under test reach the server through AWS_ENDPOINT_URL, which
// startLamina() sets.

const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const DEFAULT_REGION = 'us-east-1';

class LaminaError extends Error {}

function executable(p) {
  try {
    fs.accessSync(p, fs.constants.X_OK);
    return fs.statSync(p).isFile();
  } catch {
    return false;
  }
}

function onPath(name) {
  for (const dir of (process.env.PATH || '').split(path.delimiter)) {
    if (dir && executable(path.join(dir, name))) return path.join(dir, name);
  }
  return null;
}

// The lamina that started this process (`lamina run -- node --test`), if any.
function ancestorLamina() {
  let pid = process.ppid;
  for (let i = 0; i < 16 && pid > 1; i++) {
    let exe, stat;
    try {
      exe = fs.readlinkSync(`/proc/${pid}/exe`);
      stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    } catch {
      return null;
    }
    if (path.basename(exe) === 'lamina' && executable(exe)) return exe;
    pid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  }
  return null;
}

// `explicit`, else $LAMINA_BIN, else lamina on PATH, else the lamina that started us; or null.
function findBinary(explicit) {
  for (const candidate of [explicit, process.env.LAMINA_BIN]) {
    if (!candidate) continue;
    const p = candidate.includes('/') ? path.resolve(candidate) : onPath(candidate);
    if (!p || !executable(p)) throw new LaminaError(`lamina binary not found or not executable: ${candidate}`);
    return p;
  }
  return onPath('lamina') || ancestorLamina();
}

async function http(url, { method = 'GET', body, headers, timeoutMs = 30000 } = {}) {
  const res = await fetch(url, { method, body, headers, signal: AbortSignal.timeout(timeoutMs) });
  const text = await res.text();
  let json;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

class Lamina {
  constructor({ endpoint, child = null, binary = null, logPath = null, health = {} }) {
    this.endpoint = endpoint.replace(/\/+$/, '');
    this.child = child;
    this.binary = binary;
    this.logPath = logPath;
    this.region = health.region || DEFAULT_REGION;
    this.accountId = health.account_id || '123456789012';
    this.version = health.version;
    this._savedEnv = null;
    this._onExit = null;
  }

  /** True when this object started the server (and stop() ends it). */
  get owned() {
    return this.child !== null;
  }

  get pid() {
    return this.child ? this.child.pid : null;
  }

  /** What `lamina run` gives its command: the endpoint, and dummy credentials and the
   * region where none are set. */
  environment() {
    const env = { AWS_ENDPOINT_URL: this.endpoint, LAMINA_ENDPOINT: this.endpoint };
    if (!process.env.AWS_ACCESS_KEY_ID && !process.env.AWS_SECRET_ACCESS_KEY) {
      Object.assign(env, { AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test' });
    }
    if (!process.env.AWS_REGION && !process.env.AWS_DEFAULT_REGION) {
      Object.assign(env, { AWS_REGION: this.region, AWS_DEFAULT_REGION: this.region });
    }
    return env;
  }

  exportEnvironment() {
    if (this._savedEnv) return;
    const env = this.environment();
    this._savedEnv = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
    Object.assign(process.env, env);
  }

  restoreEnvironment() {
    if (!this._savedEnv) return;
    for (const [k, v] of Object.entries(this._savedEnv)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    this._savedEnv = null;
  }

  /** Ends a server this object started (SIGTERM, SIGKILL after timeoutMs). */
  async stop({ timeoutMs = 20000 } = {}) {
    this.restoreEnvironment();
    const child = this.child;
    if (!child) return;
    if (this._onExit) process.removeListener('exit', this._onExit);
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      await exited;
      clearTimeout(timer);
    }
  }

  logTail(chars = 4000) {
    try {
      return this.logPath ? fs.readFileSync(this.logPath, 'utf8').slice(-chars) : '';
    } catch {
      return '';
    }
  }

  async health() {
    const r = await http(`${this.endpoint}/health`);
    if (r.status !== 200) throw new LaminaError(`GET /health answered ${r.status}: ${r.text}`);
    return r.json;
  }

  /** POST /_lamina/reset: everything gone, as in a new server (ephemeral servers only). */
  async reset() {
    const r = await http(`${this.endpoint}/_lamina/reset`, { method: 'POST', body: '' });
    if (r.status !== 200) {
      throw new LaminaError(`POST /_lamina/reset answered ${r.status}: ${r.json ? r.json.message : r.text}`);
    }
    return r.json;
  }

  /** GET /_lamina/invocations: recent invocations, newest first. A string is the function. */
  async invocations(query = {}) {
    if (typeof query === 'string') query = { function: query };
    const params = new URLSearchParams();
    for (const k of ['function', 'qualifier', 'limit']) if (query[k] !== undefined) params.set(k, String(query[k]));
    const qs = params.toString();
    const r = await http(`${this.endpoint}/_lamina/invocations${qs ? `?${qs}` : ''}`);
    if (r.status !== 200) {
      throw new LaminaError(`GET /_lamina/invocations answered ${r.status}: ${r.json ? r.json.message : r.text}`);
    }
    return r.json.invocations;
  }

  /** Invokes a function through the Lambda API (RequestResponse unless invocationType):
   * { statusCode, functionError, executedVersion, payload (parsed JSON, else text) }. */
  async invoke(functionName, payload = {}, { qualifier, invocationType } = {}) {
    const q = qualifier ? `?Qualifier=${encodeURIComponent(qualifier)}` : '';
    const headers = { 'Content-Type': 'application/json' };
    if (invocationType) headers['X-Amz-Invocation-Type'] = invocationType;
    const r = await http(
      `${this.endpoint}/2015-03-31/functions/${encodeURIComponent(functionName)}/invocations${q}`,
      { method: 'POST', body: typeof payload === 'string' ? payload : JSON.stringify(payload), headers, timeoutMs: 900000 },
    );
    if (r.status >= 300) {
      throw new LaminaError(`Invoke ${functionName} answered ${r.status}: ${r.text}`);
    }
    return {
      statusCode: r.status,
      functionError: r.headers.get('x-amz-function-error') || undefined,
      executedVersion: r.headers.get('x-amz-executed-version') || undefined,
      payload: r.json === undefined ? r.text : r.json,
    };
  }

  /** The messages of a function's log events (/aws/lambda/NAME unless logGroup), oldest
   * first, through the CloudWatch Logs API; with waitFor, polls until one contains it. */
  async logs(functionName, { filterPattern, logGroup, waitFor, timeoutMs = 10000 } = {}) {
    const group = logGroup || `/aws/lambda/${functionName}`;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const messages = [];
      let nextToken;
      do {
        const body = { logGroupName: group };
        if (filterPattern) body.filterPattern = filterPattern;
        if (nextToken) body.nextToken = nextToken;
        const r = await http(this.endpoint, {
          method: 'POST',
          body: JSON.stringify(body),
          headers: { 'Content-Type': 'application/x-amz-json-1.1', 'X-Amz-Target': 'Logs_20140328.FilterLogEvents' },
        });
        if (r.status === 400 && r.json && String(r.json.__type).endsWith('ResourceNotFoundException')) break;
        if (r.status !== 200) throw new LaminaError(`FilterLogEvents ${group} answered ${r.status}: ${r.text}`);
        messages.push(...r.json.events.map((e) => e.message));
        nextToken = r.json.nextToken;
      } while (nextToken);
      if (waitFor === undefined || messages.some((m) => m.includes(waitFor))) return messages;
      if (Date.now() > deadline) {
        throw new LaminaError(`no log event of ${group} contained ${JSON.stringify(waitFor)} within ${timeoutMs} ms`);
      }
      await sleep(100);
    }
  }

  /** Applies a SAM or CloudFormation template (`lamina deploy`); returns its output. */
  async deploy(template, { parameters = {}, stackName, region, timeoutMs = 120000 } = {}) {
    const args = ['deploy', String(template), '--region', region || this.region];
    if (stackName) args.push('--stack-name', stackName);
    for (const [k, v] of Object.entries(parameters)) args.push('--parameter-overrides', `${k}=${v}`);
    return this._cli(args, timeoutMs);
  }

  async deleteStack(stackName, { region, timeoutMs = 60000 } = {}) {
    return this._cli(['delete', '--stack-name', stackName, '--region', region || this.region], timeoutMs);
  }

  _cli(args, timeoutMs) {
    if (!this.binary) throw new LaminaError('this needs the lamina binary (LAMINA_BIN, or lamina on PATH)');
    const env = { ...process.env, LAMINA_ENDPOINT: this.endpoint };
    if (!env.AWS_ACCESS_KEY_ID && !env.AWS_SECRET_ACCESS_KEY) Object.assign(env, { AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test' });
    return new Promise((resolve, reject) => {
      const child = spawn(this.binary, [...args, '--endpoint', this.endpoint], { env, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      child.stdout.on('data', (d) => (out += d));
      child.stderr.on('data', (d) => (err += d));
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      child.on('error', reject);
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        if (code === 0) resolve(out);
        else reject(new LaminaError(`lamina ${args[0]} failed (${signal || code}): ${err.trim()}`));
      });
    });
  }
}

// A server this process may already have been pointed at: $LAMINA_ENDPOINT (lamina run),
// else $AWS_ENDPOINT_URL if a lamina answers there.
async function runningEndpoint() {
  if (process.env.LAMINA_ENDPOINT) return process.env.LAMINA_ENDPOINT;
  const url = process.env.AWS_ENDPOINT_URL;
  if (!url) return null;
  try {
    const r = await http(`${url.replace(/\/+$/, '')}/health`, { timeoutMs: 2000 });
    if (r.status === 200 && r.json && r.json.status === 'ok' && 'sandbox' in r.json) return url;
  } catch {
    // nothing there
  }
  return null;
}

let current = null;

/**
 * Starts `lamina serve --ephemeral` on a free port of 127.0.0.1 and waits for /health, or
 * uses the server `lamina run` started. Sets AWS_ENDPOINT_URL (and dummy credentials and
 * region where none are set) for this process and its children, unless exportEnv is false.
 * Options: bin, args (extra serve flags), timeoutMs (60000), exportEnv (true), env.
 */
async function startLamina({ bin, args = [], timeoutMs = 60000, exportEnv = true, env } = {}) {
  if (current) return current;
  const endpoint = await runningEndpoint();
  if (endpoint) {
    const health = await new Lamina({ endpoint }).health();
    current = new Lamina({ endpoint, binary: findBinary(bin), health });
    return current;
  }
  const binary = findBinary(bin);
  if (!binary) throw new LaminaError('lamina binary not found: set LAMINA_BIN or put lamina on PATH');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lamina-test-'));
  const portFile = path.join(dir, 'port');
  const logPath = path.join(dir, 'lamina.log');
  const log = fs.openSync(logPath, 'a');
  const child = spawn(
    binary,
    ['serve', '--ephemeral', '--host', '127.0.0.1', '--port', '0', '--port-file', portFile, '--log-level', 'warn', ...args],
    { stdio: ['ignore', log, log], detached: true, env: env || process.env },
  );
  fs.closeSync(log);
  child.unref(); // a forgotten stop() must not keep the test process alive: 'exit' kills it
  let spawnError = null;
  child.once('error', (e) => (spawnError = e));
  const lamina = new Lamina({ endpoint: 'http://127.0.0.1:0', child, binary, logPath });
  lamina._onExit = () => {
    try {
      child.kill('SIGTERM');
    } catch {
      // gone already
    }
  };
  process.once('exit', lamina._onExit);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (spawnError) throw new LaminaError(`could not start ${binary}: ${spawnError.message}`);
    if (child.exitCode !== null || child.signalCode !== null) {
      process.removeListener('exit', lamina._onExit);
      throw new LaminaError(`lamina exited (${child.signalCode || child.exitCode}) at start-up: ${lamina.logTail()}`);
    }
    let port = '';
    try {
      port = fs.readFileSync(portFile, 'utf8').trim();
    } catch {
      // not written yet
    }
    if (/^\d+$/.test(port)) {
      try {
        const r = await http(`http://127.0.0.1:${port}/health`, { timeoutMs: 2000 });
        if (r.status === 200) {
          lamina.endpoint = `http://127.0.0.1:${port}`;
          Object.assign(lamina, { region: r.json.region || DEFAULT_REGION, accountId: r.json.account_id, version: r.json.version });
          break;
        }
      } catch {
        // not listening yet
      }
    }
    if (Date.now() > deadline) {
      await lamina.stop();
      throw new LaminaError(`lamina did not answer /health within ${timeoutMs} ms: ${lamina.logTail()}`);
    }
    await sleep(20);
  }
  if (exportEnv) lamina.exportEnvironment();
  current = lamina;
  return lamina;
}

// The server of this process; in a Jest worker (or any child of a process that started
// one), the one its environment names.
async function need() {
  if (current) return current;
  if (process.env.LAMINA_ENDPOINT) return startLamina();
  throw new LaminaError('lamina is not started: call startLamina() first');
}

/** Stops the server startLamina() started (a server lamina run made is left alone). */
async function stop() {
  const lamina = current;
  current = null;
  if (lamina) await lamina.stop();
}

module.exports = {
  startLamina,
  stop,
  reset: () => need().then((l) => l.reset()),
  invocations: (query) => need().then((l) => l.invocations(query)),
  invoke: (name, payload, options) => need().then((l) => l.invoke(name, payload, options)),
  logs: (name, options) => need().then((l) => l.logs(name, options)),
  deploy: (template, options) => need().then((l) => l.deploy(template, options)),
  current: () => current,
  findBinary,
  version: (bin) => {
    const b = findBinary(bin);
    if (!b) throw new LaminaError('lamina binary not found');
    return spawnSync(b, ['--version'], { encoding: 'utf8' }).stdout.trim();
  },
  Lamina,
  LaminaError,
};
