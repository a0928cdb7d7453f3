// Shared jest configuration: tests run on TypeScript sources through @swc/jest, no build needed.
// Workspace packages resolve to their src/index.ts (the "lsvm-source" view of every package).
const path = require('node:path');
const root = __dirname;
module.exports = {
  testEnvironment: 'node',
  transform: {
    '^.+\\.(t|j)sx?$': [
      '@swc/jest',
      { jsc: { parser: { syntax: 'typescript' }, target: 'es2022' }, module: { type: 'commonjs' } },
    ],
  },
  moduleNameMapper: {
    '^@lsvm/([a-z0-9-]+)$': path.join(root, 'packages/$1/src/index.ts'),
    '^(\\.{1,2}/.*)\\.js$': '$1',
  },
  testMatch: ['**/test/**/*.test.ts'],
  // pkijs, asn1js, tinypool and their helpers ship ES modules only; jest runs CommonJS, so they are
  // compiled by the same swc transform as our sources instead of being ignored.
  transformIgnorePatterns: [
    '/node_modules/(?!.*(pkijs|asn1js|tinypool|@peculiar|@noble|bytestreamjs|pvtsutils|pvutils)[@/+])',
  ],
  testPathIgnorePatterns: ['/node_modules/', '/dist/', '/build/'],
  // jest's own default of 5 s is too short for interop tests that start peers.
  testTimeout: 120000,
};
