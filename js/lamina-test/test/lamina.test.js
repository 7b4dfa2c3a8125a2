'use strict';
// node --test: lamina-test against the lamina binary ($LAMINA_BIN, PATH, or the `lamina run`
// this runs under).
const { test, before, after, beforeEach } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const lamina = require('..');

const TEMPLATE = path.join(__dirname, 'template.yaml');
const underLaminaRun = Boolean(process.env.LAMINA_ENDPOINT);
let server;

before(async () => {
  server = await lamina.startLamina();
});

after(async () => {
  const pid = server.pid;
  await lamina.stop();
  if (pid !== null) assert.throws(() => process.kill(pid, 0), { code: 'ESRCH' });
});

beforeEach(() => lamina.reset());

test('starts a server of its own, or uses the one lamina run started', async () => {
  if (underLaminaRun) {
    assert.equal(server.owned, false);
    assert.equal(server.pid, null);
    assert.equal(server.endpoint, process.env.LAMINA_ENDPOINT);
  } else {
    assert.equal(server.owned, true);
    assert.match(server.endpoint, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.equal(fs.readlinkSync(`/proc/${server.pid}/exe`), fs.realpathSync(server.binary));
  }
  assert.equal(process.env.AWS_ENDPOINT_URL, server.endpoint);
  assert.equal((await server.health()).status, 'ok');
});

test('deploys a template, invokes, and sees the invocation and its logs', async () => {
  const out = await lamina.deploy(TEMPLATE, { parameters: { Greeting: 'Hi' }, stackName: 'node-app' });
  assert.match(out, /stack node-app deployed/);
  const r = await lamina.invoke('node-greet', { name: 'Ada' });
  assert.equal(r.statusCode, 200);
  assert.equal(r.functionError, undefined);
  assert.deepEqual(r.payload, { message: 'Hi, Ada!' });

  const recent = await lamina.invocations('node-greet');
  assert.equal(recent.length, 1);
  assert.equal(recent[0].status, 'Success');
  assert.equal(recent[0].version, '$LATEST');
  assert.equal(recent[0].cold, true);
  const messages = await lamina.logs('node-greet', { waitFor: 'greeting Ada' });
  assert.ok(messages.some((m) => m.startsWith('REPORT RequestId: ')), messages.join(''));
});

test('reset before each test: nothing of the last one is left', async () => {
  assert.deepEqual(await lamina.invocations(), []);
  await assert.rejects(lamina.invoke('node-greet', {}), /answered 404/);
});

test('a template lamina refuses rejects with its reason', async () => {
  const bad = path.join(fs.mkdtempSync(path.join(require('node:os').tmpdir(), 'lamina-test-')), 'bad.yaml');
  fs.writeFileSync(bad, 'Resources:\n  Bad:\n    Type: AWS::Serverless::Function\n    Properties: {}\n');
  await assert.rejects(lamina.deploy(bad), /lamina deploy failed .*the template was not applied/s);
});
