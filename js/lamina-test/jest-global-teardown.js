'use strict';
// Jest: "globalTeardown": "lamina-test/jest-global-teardown". Stops what globalSetup started.
const { stop } = require('./index.js');

module.exports = async function globalTeardown() {
  const lamina = globalThis.__LAMINA__;
  delete globalThis.__LAMINA__;
  if (lamina) await lamina.stop();
  await stop();
};
