import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AuthError, VerificationError, fromHex } from '@lsvm/core';
import { describeWithPeers, runOk, tempDir } from '@lsvm/testkit';
import { encodeCanonical } from '../src/canonical-cbor.js';
import {
  type CborValue,
  createKeyProtector,
  guardianToPem,
  packSpecialization,
  readPfx,
  signData,
  unpackSpecialization,
  unwrapTransportKey,
} from '../src/index.js';
import { keyProtectorToCbor } from '../src/key-protector.js';
import { macEqual } from '../src/mac-equal.js';
import { thrown } from './helpers.js';
import { vectorGuardians } from './vectors.js';

/**
 * Every MAC check goes through node's constant-time comparison (DESIGN rule 6): the PKCS#12
 * password MAC, the key protector's wrapping MAC and the specialization.aes HMAC. The spy sees
 * the computed MAC and the stored one compared by crypto.timingSafeEqual, on success and failure.
 */

// The module object itself (an `import * as` namespace is a copy under the CommonJS transform).
const nodeCrypto = require('node:crypto') as typeof import('node:crypto');
let spy: jest.SpyInstance;
beforeEach(() => {
  spy = jest.spyOn(nodeCrypto, 'timingSafeEqual');
});
afterEach(() => spy.mockRestore());

/** The lengths of the buffers timingSafeEqual compared, per call. */
const compared = (): number[][] => spy.mock.calls.map((c) => [c[0].byteLength, c[1].byteLength]);

describe('macEqual', () => {
  test('equal, different and different-length MACs; lengths never reach timingSafeEqual unequal', () => {
    const a = fromHex('00112233445566778899aabbccddeeff');
    expect(macEqual(a, a.slice())).toBe(true);
    const b = a.slice();
    b[15]! ^= 1;
    expect(macEqual(a, b)).toBe(false);
    expect(macEqual(a, a.subarray(0, 8))).toBe(false); // truncated MAC: false, not a RangeError
    expect(macEqual(new Uint8Array(0), new Uint8Array(0))).toBe(true);
    expect(compared()).toEqual([
      [16, 16],
      [16, 16],
      [0, 0],
    ]);
  });
});

describe('MAC checks are constant-time', () => {
  const { owner, fabric } = vectorGuardians();
  const key = fromHex('000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f');

  test('specialization.aes mode 2 HMAC', () => {
    const bytes = packSpecialization([{ name: 'a.txt', data: new TextEncoder().encode('hello') }], key, {
      mode: 2,
    });
    expect(unpackSpecialization(bytes, key).authenticated).toBe(true);
    expect(compared()).toEqual([[32, 32]]);
    const wrong = key.slice();
    wrong[0]! ^= 1;
    expect(thrown(() => unpackSpecialization(bytes, wrong))).toBeInstanceOf(VerificationError);
    expect(compared()).toEqual([
      [32, 32],
      [32, 32],
    ]);
  });

  test('key protector wrapping MAC', () => {
    const { keyProtector, transportKey } = createKeyProtector(owner, [fabric]);
    expect(unwrapTransportKey(keyProtector, fabric)).toEqual(transportKey);
    expect(compared()).toEqual([[32, 32]]);
    // A forged MAC that the owner signed: the signatures verify, the MAC comparison fails.
    spy.mockClear();
    const mac = keyProtector.wrappingMac.slice();
    mac[31]! ^= 1;
    const wrappings = (keyProtectorToCbor(keyProtector) as { wrappings: CborValue }).wrappings;
    const bad = {
      ...keyProtector,
      wrappingMac: mac,
      ownerSignature: signData(
        owner.signingKey,
        encodeCanonical(['lsvm key-protector v1', 1, wrappings, mac]),
      ),
    };
    const e = thrown(() => unwrapTransportKey(bad, fabric));
    expect(e).toBeInstanceOf(VerificationError);
    expect(e.code).toBe('KP_WRAPPING_MAC');
    expect(compared()).toEqual([[32, 32]]);
  });
});

describeWithPeers(['openssl'], 'PKCS#12 password MAC', () => {
  const t = tempDir('lsvm-sd-mac-');
  afterAll(() => t.cleanup());
  const p = (f: string) => join(t.path, f);

  test('computed by pkijs, compared with timingSafeEqual; a wrong password is PFX_MAC', async () => {
    const pem = guardianToPem(vectorGuardians().fabric);
    writeFileSync(p('k.pem'), pem.signingKey, { mode: 0o600 });
    writeFileSync(p('c.pem'), pem.signingCertificate);
    runOk('openssl', [
      'pkcs12',
      '-export',
      '-inkey',
      p('k.pem'),
      '-in',
      p('c.pem'),
      '-passout',
      'pass:right',
      '-out',
      p('g.pfx'),
    ]);
    const pfx = new Uint8Array(readFileSync(p('g.pfx')));
    await readPfx(pfx, 'right');
    expect(compared()[0]).toEqual([32, 32]); // HMAC-SHA256, OpenSSL 3's default
    spy.mockClear();
    const e = await readPfx(pfx, 'wrong').then(
      () => undefined,
      (x: unknown) => x,
    );
    expect(e).toBeInstanceOf(AuthError);
    expect((e as AuthError).code).toBe('PFX_MAC');
    expect(compared()).toEqual([[32, 32]]);
  });
});
