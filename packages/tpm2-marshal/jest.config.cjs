module.exports = { ...require('../../jest.preset.cjs'), displayName: 'tpm2-marshal', rootDir: __dirname };
