// @lsvm/vsc uses pkijs, asn1js and tinypool, which ship ES modules only; jest runs CommonJS, so they
// are compiled by the same swc transform as our sources instead of being ignored (as in vsc).
const preset = require('../../jest.preset.cjs');
module.exports = {
  ...preset,
  displayName: 'provisioning',
  rootDir: __dirname,
  transformIgnorePatterns: [
    '/node_modules/(?!.*(pkijs|asn1js|tinypool|@peculiar|@noble|bytestreamjs|pvtsutils|pvutils)[@/+])',
  ],
};
