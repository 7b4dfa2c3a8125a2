'use strict';
// The Jest globalSetup/globalTeardown pair, driven as Jest drives them: setup in the parent,
// tests in child processes that inherit its environment, teardown in the parent.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const { execFileSync } = require('node:child_process');
const path = require('node:path');

const setup = require('../jest-global-setup.js');
const teardown = require('../jest-global-teardown.js');

test('globalSetup starts lamina for the workers, globalTeardown stops it', async () => {
  const before = process.env.AWS_ENDPOINT_URL;
  await setup();
  const server = globalThis.__LAMINA__;
  try {
    assert.equal(process.env.LAMINA_ENDPOINT, server.endpoint);
    // a worker: a new process, the same environment, the module's helpers
    const worker = `
      const l = require(${JSON.stringify(path.join(__dirname, '..'))});
      (async () => {
        await l.reset();
        console.log(JSON.stringify({ endpoint: process.env.AWS_ENDPOINT_URL, invocations: await l.invocations() }));
      })().catch((e) => { console.error(e); process.exit(1); });`;
    const out = JSON.parse(execFileSync(process.execPath, ['-e', worker], { encoding: 'utf8' }));
    assert.deepEqual(out, { endpoint: server.endpoint, invocations: [] });
  } finally {
    await teardown();
  }
  assert.equal(globalThis.__LAMINA__, undefined);
  if (server.pid !== null) {
    assert.throws(() => process.kill(server.pid, 0), { code: 'ESRCH' });
    assert.equal(process.env.AWS_ENDPOINT_URL, before);
  }
});
