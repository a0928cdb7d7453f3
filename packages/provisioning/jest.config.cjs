module.exports = { ...require('../../jest.preset.cjs'), displayName: 'provisioning', rootDir: __dirname };
