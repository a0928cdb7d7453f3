import fc from 'fast-check';
import { FormatError } from '@lsvm/core';
import { type LsvmConf, parseLsvmConf, serializeLsvmConf } from '../src/lsvmconf.js';
import { decodeKeysPayload, encodeKeysPayload } from '../src/keys-payload.js';

const sample = `# written by lsvmprep
EFIVendorDir = ubuntu
BootDeviceLUKS=3F8A5F3C-7E7D-4B0E-9C1F-1D2E3F405162
RootDeviceLUKS=   0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0
BootDevice=11111111-2222-3333-4444-555555555555
RootDevice=66666666-7777-8888-9999-aaaaaaaaaaaa
LogLevel=DEBUG
`;

describe('lsvmconf', () => {
  test('parses lsvmprep output: comments, spaces, case of GUIDs', () => {
    expect(parseLsvmConf(sample)).toEqual({
      efiVendorDir: 'ubuntu',
      bootDeviceLuks: '3f8a5f3c-7e7d-4b0e-9c1f-1d2e3f405162',
      rootDeviceLuks: '0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0',
      bootDevice: '11111111-2222-3333-4444-555555555555',
      rootDevice: '66666666-7777-8888-9999-aaaaaaaaaaaa',
      logLevel: 'DEBUG',
    });
  });

  test.each([
    ['an unknown key', `${sample}Extra=1\n`],
    ['a duplicate key', `${sample}LogLevel=INFO\n`],
    ['a missing key', sample.replace(/RootDevice=.*\n/, '')],
    ['a bad vendor', sample.replace('ubuntu', 'debian')],
    ['a bad GUID', sample.replace('11111111-2222', '1111-2222')],
    ['a line without =', `${sample}garbage\n`],
    ['a bad log level', sample.replace('DEBUG', 'TRACE')],
  ])('rejects %s with LSVMCONF_INVALID', (_name, text) => {
    expect(() => parseLsvmConf(text)).toThrow(FormatError);
    expect(() => parseLsvmConf(text)).toThrow(expect.objectContaining({ code: 'LSVMCONF_INVALID' }));
  });

  test('round trip (property)', () => {
    const guid = fc.uuid();
    fc.assert(
      fc.property(
        guid,
        guid,
        guid,
        guid,
        fc.constantFrom('ubuntu', 'redhat', 'centos', 'sles'),
        fc.option(fc.constantFrom('FATAL', 'ERROR', 'WARNING', 'INFO', 'DEBUG'), { nil: undefined }),
        (a, b, c, d, v, l) => {
          const conf: LsvmConf = {
            efiVendorDir: v as LsvmConf['efiVendorDir'],
            bootDeviceLuks: a,
            rootDeviceLuks: b,
            bootDevice: c,
            rootDevice: d,
          };
          if (l) conf.logLevel = l as LsvmConf['logLevel'];
          expect(parseLsvmConf(serializeLsvmConf(conf))).toEqual(conf);
        },
      ),
    );
  });

  test('never throws anything but LsvmError on arbitrary bytes (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), (b) => {
        try {
          parseLsvmConf(b);
        } catch (e) {
          expect(e).toBeInstanceOf(FormatError);
        }
      }),
    );
  });
});

describe('sealed keys payload', () => {
  test('layout: u16 count, then type/size/bytes per key, little-endian', () => {
    const p = encodeKeysPayload({
      boot: new TextEncoder().encode('bootpw'),
      root: new TextEncoder().encode('rootpw!'),
    });
    expect(Buffer.from(p).toString('hex')).toBe(
      '0200' +
        '0100' +
        '0600' +
        Buffer.from('bootpw').toString('hex') +
        '0200' +
        '0700' +
        Buffer.from('rootpw!').toString('hex'),
    );
    const d = decodeKeysPayload(p);
    expect(new TextDecoder().decode(d.boot)).toBe('bootpw');
    expect(new TextDecoder().decode(d.root)).toBe('rootpw!');
  });

  test('128-byte cap, missing/duplicate/unknown keys, trailing bytes', () => {
    expect(() => encodeKeysPayload({ boot: new Uint8Array(60), root: new Uint8Array(60) })).toThrow(
      /exceeds/,
    );
    expect(() => decodeKeysPayload(Uint8Array.from([1, 0, 1, 0, 1, 0, 0x41]))).toThrow(/lacks/);
    expect(() => decodeKeysPayload(Uint8Array.from([2, 0, 1, 0, 1, 0, 0x41, 1, 0, 1, 0, 0x42]))).toThrow(
      /duplicate/,
    );
    expect(() => decodeKeysPayload(Uint8Array.from([1, 0, 9, 0, 0, 0]))).toThrow(/unknown key type/);
    const ok = encodeKeysPayload({ boot: Uint8Array.of(1), root: Uint8Array.of(2) });
    expect(() => decodeKeysPayload(Uint8Array.from([...ok, 0]))).toThrow(/trailing/);
    expect(() => decodeKeysPayload(Uint8Array.from([2, 0, 1, 0, 9, 0]))).toThrow(FormatError);
  });

  test('round trip (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 58 }), fc.uint8Array({ maxLength: 58 }), (boot, root) => {
        expect(decodeKeysPayload(encodeKeysPayload({ boot, root }))).toEqual({ boot, root });
      }),
    );
  });
});
