// One command runs every test of every package: `pnpm test` (jest with projects).
module.exports = {
  projects: [
    '<rootDir>/packages/*/jest.config.cjs',
    '<rootDir>/tools/jest.config.cjs',
    '<rootDir>/examples/jest.config.cjs',
    '<rootDir>/benchmarks/jest.config.cjs',
  ],
  // Global options are ignored inside project configs: jest's default of 5 s is too short for
  // interop tests that start peers (swtpm, cryptsetup, qemu-img) on a busy 2-core machine.
  testTimeout: 120000,
  // Two workers on the 2-core machine CI uses; interop tests spend much of their time in peers.
  maxWorkers: 2,
};
