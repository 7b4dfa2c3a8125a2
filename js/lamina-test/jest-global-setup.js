'use strict';
// Jest: "globalSetup": "lamina-test/jest-global-setup". Starts lamina once for the whole
// run (or uses the one `lamina run -- jest` made); AWS_ENDPOINT_URL, LAMINA_ENDPOINT, dummy
// credentials and the region reach the test workers through the environment.
const { startLamina } = require('./index.js');

module.exports = async function globalSetup() {
  const lamina = await startLamina({
    args: process.env.LAMINA_ARGS ? process.env.LAMINA_ARGS.split(/\s+/).filter(Boolean) : [],
  });
  globalThis.__LAMINA__ = lamina;
};
