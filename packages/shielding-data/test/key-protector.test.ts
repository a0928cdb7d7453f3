import { AuthError, LsvmError, VerificationError } from '@lsvm/core';
import {
  type CborValue,
  createKeyProtector,
  decodeCanonical,
  encodeCanonical,
  keyProtectorToCbor,
  signData,
  encodeKeyProtector,
  exportGuardian,
  grantGuardian,
  parseKeyProtector,
  revokeGuardian,
  unwrapTransportKey,
  verifyKeyProtector,
} from '../src/index.js';
import { flipPositions, testGuardians, thrown } from './helpers.js';

describe('key protector', () => {
  const { owner, fabric, p384, intruder } = testGuardians();
  const { keyProtector: kp, transportKey } = createKeyProtector(owner, [
    exportGuardian(fabric),
    exportGuardian(p384),
  ]);
  const bytes = encodeKeyProtector(kp);

  test('every listed guardian unwraps the same transport key; algorithms follow the key type', () => {
    expect(transportKey.length).toBe(32);
    for (const g of [owner, fabric, p384]) expect(unwrapTransportKey(kp, g)).toEqual(transportKey);
    expect(kp.wrappings.map((w) => w.algorithm)).toEqual([
      'RSA-OAEP-256',
      'ECDH-ES+A256KW',
      'ECDH-ES+A256KW',
    ]);
    expect(kp.wrappings[2]!.wrappedKey.length).toBe(40);
  });

  test('encode/parse round trip is byte-exact', () => {
    const back = parseKeyProtector(bytes);
    expect(encodeKeyProtector(back)).toEqual(bytes);
    expect(unwrapTransportKey(back, fabric)).toEqual(transportKey);
  });

  test('anyone can verify the structure without a private key', () => {
    const info = verifyKeyProtector(parseKeyProtector(bytes), {
      expectedOwner: verifyKeyProtector(kp).owner.id,
    });
    expect(info.owner.name).toBe(owner.name);
    expect(info.guardians.map((g) => g.name)).toEqual([owner.name, fabric.name, p384.name]);
  });

  test('a guardian not in the list cannot unwrap', () => {
    const e = thrown(() => unwrapTransportKey(kp, intruder));
    expect(e).toBeInstanceOf(AuthError);
    expect(e.code).toBe('KP_NOT_AUTHORISED');
  });

  test('grant keeps the transport key; revoke draws a new one and drops the guardian', () => {
    const granted = grantGuardian(kp, owner, exportGuardian(intruder));
    expect(unwrapTransportKey(granted, intruder)).toEqual(transportKey);
    expect(granted.wrappings.slice(0, 3).map((w) => w.wrappedKey)).toEqual(
      kp.wrappings.map((w) => w.wrappedKey),
    );
    const { keyProtector: revoked, transportKey: fresh } = revokeGuardian(granted, owner, fabric.name);
    expect(fresh).not.toEqual(transportKey);
    expect(thrown(() => unwrapTransportKey(revoked, fabric)).code).toBe('KP_NOT_AUTHORISED');
    expect(unwrapTransportKey(revoked, intruder)).toEqual(fresh);
    expect(thrown(() => revokeGuardian(kp, owner, owner.name)).code).toBe('KP_REVOKE_OWNER');
    expect(thrown(() => revokeGuardian(kp, owner, 'nobody')).code).toBe('KP_GUARDIAN_UNKNOWN');
    expect(thrown(() => grantGuardian(kp, owner, exportGuardian(fabric))).code).toBe('KP_DUPLICATE_GUARDIAN');
  });

  test('only the owner can grant or revoke', () => {
    expect(thrown(() => grantGuardian(kp, fabric, exportGuardian(intruder))).code).toBe('KP_NOT_OWNER');
    expect(thrown(() => revokeGuardian(kp, intruder, p384.name)).code).toBe('KP_NOT_OWNER');
  });

  test('a non-owner cannot produce a key protector that verifies as the owner’s', () => {
    // The intruder rebuilds the protector naming the real owner first but signs with its own key.
    const forged = createKeyProtector(intruder, [exportGuardian(fabric)]).keyProtector;
    const spliced = { ...forged, wrappings: [kp.wrappings[0]!, ...forged.wrappings.slice(1)] };
    expect(thrown(() => verifyKeyProtector(spliced)).code).toMatch(/^KP_(CERT|OWNER)_SIGNATURE$/);
    // Signed with its own identity it verifies, but not as the expected owner.
    const ownerId = verifyKeyProtector(kp).owner.id;
    expect(thrown(() => verifyKeyProtector(forged, { expectedOwner: ownerId })).code).toBe(
      'KP_OWNER_MISMATCH',
    );
  });

  test('a wrapping MAC that does not match the transport key is caught after unwrapping', () => {
    // The owner re-signs a protector whose MAC is wrong: signatures pass, the MAC does not.
    const { signData } = require('../src/index.js') as typeof import('../src/index.js');
    const { encodeCanonical } =
      require('../src/canonical-cbor.js') as typeof import('../src/canonical-cbor.js');
    const { keyProtectorToCbor } =
      require('../src/key-protector.js') as typeof import('../src/key-protector.js');
    const mac = kp.wrappingMac.slice();
    mac[0]! ^= 1;
    const wrappings = (keyProtectorToCbor(kp) as { wrappings: import('../src/index.js').CborValue })
      .wrappings;
    const bad = {
      ...kp,
      wrappingMac: mac,
      ownerSignature: signData(
        owner.signingKey,
        encodeCanonical(['lsvm key-protector v1', 1, wrappings, mac]),
      ),
    };
    verifyKeyProtector(bad);
    const e = thrown(() => unwrapTransportKey(bad, fabric));
    expect(e).toBeInstanceOf(VerificationError);
    expect(e.code).toBe('KP_WRAPPING_MAC');
  });

  test('any single flipped byte is a typed failure (parse, verify or unwrap)', () => {
    let verifyFailures = 0;
    const positions = flipPositions(
      bytes,
      [owner, fabric, p384].flatMap((g) => [g.signingCertificate, g.encryptionCertificate]),
    );
    for (const i of positions) {
      const c = bytes.slice();
      c[i]! ^= 0x01;
      const e = thrown(() => unwrapTransportKey(parseKeyProtector(c), fabric));
      expect(e).toBeInstanceOf(LsvmError);
      if (e.kind === 'verification') verifyFailures++;
    }
    // Most bytes are certificates, keys and signatures: the signatures catch them.
    expect(verifyFailures).toBeGreaterThan(positions.length / 2);
  });
});

describe('key protector: hostile structure', () => {
  const { owner, fabric } = testGuardians();
  const { keyProtector: kp } = createKeyProtector(owner, [exportGuardian(fabric)]);
  type M = Record<string, CborValue>;
  const base = () => decodeCanonical(encodeKeyProtector(kp), 'kp', 1 << 20) as M;
  const wr = (m: M) => m.wrappings as M[];
  const parse = (m: M) => thrown(() => parseKeyProtector(encodeCanonical(m)));

  test.each<[string, (m: M) => void, string]>([
    [
      'version 2',
      (m) => {
        m.v = 2;
      },
      'KP_VERSION',
    ],
    [
      'no wrappings',
      (m) => {
        m.wrappings = [];
      },
      'KP_NO_OWNER',
    ],
    [
      'an unknown field',
      (m) => {
        m.extra = 1;
      },
      'SCHEMA_UNKNOWN_FIELD',
    ],
    [
      'a missing MAC',
      (m) => {
        delete m.wrappingMac;
      },
      'SCHEMA_TYPE',
    ],
    [
      'a short MAC',
      (m) => {
        m.wrappingMac = new Uint8Array(31);
      },
      'SCHEMA_LENGTH',
    ],
    [
      'the same guardian twice',
      (m) => {
        m.wrappings = [wr(m)[0]!, wr(m)[0]!];
      },
      'KP_DUPLICATE_GUARDIAN',
    ],
    [
      'RSA-OAEP-256 on an EC key',
      (m) => {
        wr(m)[1]!.alg = 'RSA-OAEP-256';
      },
      'KP_WRAP_ALGORITHM',
    ],
    [
      'an unknown algorithm',
      (m) => {
        wr(m)[1]!.alg = 'A128KW';
      },
      'KP_WRAP_ALGORITHM',
    ],
    [
      'epk on an RSA wrapping',
      (m) => {
        wr(m)[0]!.epk = new Uint8Array(10);
      },
      'KP_EPK',
    ],
    [
      'a short RSA ciphertext',
      (m) => {
        wr(m)[0]!.wrappedKey = new Uint8Array(255);
      },
      'KP_WRAPPED_KEY',
    ],
    [
      'a 48-byte key wrap',
      (m) => {
        wr(m)[1]!.wrappedKey = new Uint8Array(48);
      },
      'KP_WRAPPED_KEY',
    ],
    [
      'a certificate that is not DER',
      (m) => {
        wr(m)[1]!.signingCert = new Uint8Array([0x30, 0x03, 1, 2, 3]);
      },
      'CERT_MALFORMED',
    ],
    [
      'a name with a control character',
      (m) => {
        wr(m)[1]!.name = 'a\u0000b';
      },
      'GUARDIAN_NAME',
    ],
  ])('rejects %s', (_, edit, code) => {
    const m = base();
    edit(m);
    const e = parse(m);
    expect(e).toBeInstanceOf(LsvmError);
    expect(e.code).toBe(code);
  });

  test('a wrong wrapped key or ephemeral key is an AuthError at unwrap, not garbage', () => {
    const { hkdfSync, createHmac } = require('node:crypto') as typeof import('node:crypto');
    const { keyProtector: k, transportKey: tk } = createKeyProtector(owner, [exportGuardian(fabric)]);
    // Re-MAC and re-sign as the owner, so that only the cryptographic unwrap can catch the change.
    const reseal = (wrappings: typeof k.wrappings) => {
      const wc = (keyProtectorToCbor({ ...k, wrappings }) as M).wrappings!;
      const macKey = new Uint8Array(
        hkdfSync('sha256', tk, new Uint8Array(0), 'lsvm key-protector wrapping-mac v1', 32),
      );
      const mac = new Uint8Array(
        createHmac('sha256', macKey)
          .update(encodeCanonical(['lsvm key-protector wrappings v1', wc]))
          .digest(),
      );
      return {
        ...k,
        wrappings,
        wrappingMac: mac,
        ownerSignature: signData(owner.signingKey, encodeCanonical(['lsvm key-protector v1', 1, wc, mac])),
      };
    };
    expect(unwrapTransportKey(reseal(k.wrappings), fabric)).toEqual(tk);
    const bad = k.wrappings[1]!.wrappedKey.slice();
    bad[3]! ^= 1;
    expect(
      thrown(() =>
        unwrapTransportKey(reseal([k.wrappings[0]!, { ...k.wrappings[1]!, wrappedKey: bad }]), fabric),
      ).code,
    ).toBe('KP_UNWRAP_FAILED');
    const otherEpk = createKeyProtector(owner, [exportGuardian(fabric)]).keyProtector.wrappings[1]!
      .ephemeralKey!;
    expect(
      thrown(() =>
        unwrapTransportKey(reseal([k.wrappings[0]!, { ...k.wrappings[1]!, ephemeralKey: otherEpk }]), fabric),
      ).code,
    ).toBe('KP_UNWRAP_FAILED');
    const rsaBad = k.wrappings[0]!.wrappedKey.slice();
    rsaBad[100]! ^= 1;
    expect(
      thrown(() =>
        unwrapTransportKey(reseal([{ ...k.wrappings[0]!, wrappedKey: rsaBad }, k.wrappings[1]!]), owner),
      ).code,
    ).toBe('KP_UNWRAP_FAILED');
  });
});
