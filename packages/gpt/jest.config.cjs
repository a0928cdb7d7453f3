module.exports = { ...require('../../jest.preset.cjs'), displayName: 'gpt', rootDir: __dirname };
