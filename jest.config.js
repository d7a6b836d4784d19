// Tests run on the compiled output in dist/ (`npm test` builds first), so worker threads, the CLI
// and the tests all execute the same JavaScript a user runs.
/** @type {import('jest').Config} */
module.exports = {
  roots: ['<rootDir>/dist/test'],
  testMatch: ['**/*.test.js'],
  testEnvironment: 'node',
  testTimeout: 60000,
};
