// pkijs, asn1js, tinypool and their dependencies ship ES modules only; jest runs CommonJS, so they
// are compiled by the same swc transform as our sources instead of being ignored.
const preset = require('../../jest.preset.cjs');
module.exports = {
  ...preset,
  displayName: 'vsc',
  rootDir: __dirname,
  transformIgnorePatterns: [
    '/node_modules/(?!.*(pkijs|asn1js|tinypool|@peculiar|@noble|bytestreamjs|pvtsutils|pvutils)[@/+])',
  ],
};
