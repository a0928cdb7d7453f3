module.exports = { ...require('../../jest.preset.cjs'), displayName: 'vhdx', rootDir: __dirname };
