module.exports = { ...require('../../jest.preset.cjs'), displayName: 'vsc', rootDir: __dirname };
