module.exports = { ...require('../../jest.preset.cjs'), displayName: 'fat', rootDir: __dirname };
