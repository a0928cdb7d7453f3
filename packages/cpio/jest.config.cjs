module.exports = { ...require('../../jest.preset.cjs'), displayName: 'cpio', rootDir: __dirname };
