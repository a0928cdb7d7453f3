module.exports = { ...require('../../jest.preset.cjs'), displayName: 'shielding-data', rootDir: __dirname };
