// One command runs every test of every package: `pnpm test` (jest with projects).
module.exports = {
  projects: [
    '<rootDir>/packages/*/jest.config.cjs',
    '<rootDir>/tools/jest.config.cjs',
    '<rootDir>/examples/jest.config.cjs',
    '<rootDir>/benchmarks/jest.config.cjs',
  ],
};
