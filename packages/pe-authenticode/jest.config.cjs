module.exports = { ...require('../../jest.preset.cjs'), displayName: 'pe-authenticode', rootDir: __dirname };
