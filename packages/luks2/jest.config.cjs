module.exports = { ...require('../../jest.preset.cjs'), displayName: 'luks2', rootDir: __dirname };
