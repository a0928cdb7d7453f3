import { AuthError, LsvmError, VerificationError } from '@lsvm/core';
import fc from 'fast-check';
import {
  type CborValue,
  type GuardianKeys,
  type Pdk,
  type PdkSecrets,
  decodeCanonical,
  encodeCanonical,
  createPdk,
  encodePdk,
  exportGuardian,
  grantPdk,
  openPdk,
  parsePdk,
  readPdk,
  revokePdk,
  signData,
  verifyPdk,
  viqSignerThumbprint,
} from '../src/index.js';
import { flipPositions, testGuardians, thrown } from './helpers.js';

const enc = new TextEncoder();

describe('shielding data file (PDK)', () => {
  const { owner, fabric, p384, intruder } = testGuardians();
  const secrets: PdkSecrets = {
    answerFile: { name: 'user-data', data: enc.encode('#cloud-config\n') },
    files: [{ name: 'app.conf', data: new Uint8Array(1000).fill(7) }],
    credentials: [{ user: 'root', password: 's3cret!' }],
    sshKeys: [{ user: 'root', key: 'ssh-ed25519 AAAA test' }],
  };
  const viq = {
    name: 'Ubuntu*',
    version: '22.4',
    rule: 'GreaterThanOrEquals' as const,
    signer: viqSignerThumbprint(owner.signingCertificate),
  };
  const pdk = createPdk({
    owner,
    guardians: [exportGuardian(fabric)],
    viqs: [viq],
    policy: 'EncryptionSupported',
    secrets,
    created: 1_700_000_000,
  });

  test('read shows the clear parts without a key, and never the secrets', () => {
    const r = readPdk(pdk);
    expect(r.problem).toBeUndefined();
    expect(r.info!.policy).toBe('EncryptionSupported');
    expect(r.info!.owner.name).toBe(owner.name);
    expect(r.info!.guardians.map((g) => g.name)).toEqual([owner.name, fabric.name]);
    expect(r.info!.viqs).toEqual([viq]);
    expect(Buffer.from(pdk).includes(Buffer.from('s3cret!'))).toBe(false);
    expect(Buffer.from(pdk).includes(Buffer.from('#cloud-config'))).toBe(false);
    expect(encodePdk(parsePdk(pdk))).toEqual(pdk);
  });

  test('owner and listed guardians open it; others get AuthError', () => {
    for (const g of [owner, fabric]) expect(openPdk(pdk, g).secrets).toEqual(secrets);
    const e = thrown(() => openPdk(pdk, intruder));
    expect(e).toBeInstanceOf(AuthError);
    expect(e.code).toBe('KP_NOT_AUTHORISED');
  });

  test('grant, then revoke: the revoked guardian cannot open the new file', () => {
    const granted = grantPdk(pdk, owner, exportGuardian(p384));
    expect(openPdk(granted, p384).secrets).toEqual(secrets);
    const revoked = revokePdk(granted, owner, fabric.name);
    expect(thrown(() => openPdk(revoked, fabric)).code).toBe('KP_NOT_AUTHORISED');
    expect(openPdk(revoked, p384).secrets).toEqual(secrets);
    expect(readPdk(revoked).info!.guardians.map((g) => g.name)).toEqual([owner.name, p384.name]);
    // The secrets were re-encrypted under a new transport key.
    expect(parsePdk(revoked).encrypted.ciphertext).not.toEqual(parsePdk(granted).encrypted.ciphertext);
    expect(thrown(() => grantPdk(pdk, fabric, exportGuardian(p384))).code).toBe('KP_NOT_OWNER');
  });

  /** Re-signs a PDK with `key` exactly as the writer signs (format doc, "Owner signature"). */
  function resign(p: Pdk, key: GuardianKeys['signingKey']): Uint8Array {
    const m = decodeCanonical(encodePdk(p), 'PDK', 1 << 26) as Record<string, CborValue>;
    delete m.ownerSignature;
    return encodePdk({ ...p, ownerSignature: signData(key, encodeCanonical(['lsvm pdk v1', m])) });
  }

  test('the resign helper reproduces the owner signature (so the next tests mean something)', () => {
    expect(resign(parsePdk(pdk), owner.signingKey)).toEqual(pdk);
  });

  test('a non-owner cannot produce a file that verifies as the owner’s', () => {
    // Change the policy and sign with a key that is not the owner's.
    const forged = parsePdk(resign({ ...parsePdk(pdk), policy: 'Shielded' }, intruder.signingKey));
    expect(thrown(() => verifyPdk(forged)).code).toBe('PDK_OWNER_SIGNATURE');
    expect(readPdk(encodePdk(forged)).problem?.code).toBe('PDK_OWNER_SIGNATURE');
    // A whole new file by the intruder verifies, but only as the intruder's.
    const own = createPdk({ owner: intruder, guardians: [exportGuardian(fabric)], viqs: [viq], secrets });
    const ownerId = readPdk(pdk).info!.owner.id;
    expect(thrown(() => verifyPdk(parsePdk(own), { expectedOwner: ownerId })).code).toBe('KP_OWNER_MISMATCH');
    expect(thrown(() => openPdk(own, fabric, { expectedOwner: ownerId })).code).toBe('KP_OWNER_MISMATCH');
  });

  test('a ciphertext change the owner re-signed is still an AEAD failure for the guardian', () => {
    const p = parsePdk(pdk);
    const ct = p.encrypted.ciphertext.slice();
    ct[5]! ^= 0x40;
    const signed = resign({ ...p, encrypted: { ...p.encrypted, ciphertext: ct } }, owner.signingKey);
    verifyPdk(parsePdk(signed));
    const e = thrown(() => openPdk(signed, fabric));
    expect(e).toBeInstanceOf(VerificationError);
    expect(e.code).toBe('PDK_AEAD');
    // Changing the VIQs (bound as AEAD associated data) is caught the same way.
    const moved = resign({ ...p, viqs: [{ ...viq, version: '99' }] }, owner.signingKey);
    expect(thrown(() => openPdk(moved, fabric)).code).toBe('PDK_AEAD');
  });

  test('any single flipped byte: typed signature/AEAD/format failure, never output', () => {
    let verification = 0;
    const positions = flipPositions(
      pdk,
      [owner, fabric].flatMap((g) => [g.signingCertificate, g.encryptionCertificate]),
    );
    for (const i of positions) {
      const c = pdk.slice();
      c[i]! ^= 0x04;
      const e = thrown(() => openPdk(c, fabric));
      expect(e).toBeInstanceOf(LsvmError);
      if (e.kind === 'verification') verification++;
    }
    expect(verification).toBeGreaterThan(positions.length / 2);
  });

  test('limits: files over 384 KiB, too many files', () => {
    const big = { ...secrets, files: [{ name: 'big', data: new Uint8Array(384 * 1024 + 1) }] };
    expect(thrown(() => createPdk({ owner, guardians: [], viqs: [], secrets: big })).code).toBe(
      'PDK_FILE_TOO_LARGE',
    );
    const bad = { ...secrets, files: [{ name: '../x', data: new Uint8Array(1) }] };
    expect(thrown(() => createPdk({ owner, guardians: [], viqs: [], secrets: bad })).code).toBe('FILE_NAME');
    expect(thrown(() => parsePdk(pdk, { maxContainerBytes: 100 })).code).toBe('CBOR_TOO_LARGE');
  });
});

describe('PDK properties', () => {
  const { owner, fabric } = testGuardians();
  const name = fc.stringMatching(/^[A-Za-z0-9._-]{1,20}$/).filter((s) => s !== '.' && s !== '..');
  const secretsArb: fc.Arbitrary<PdkSecrets> = fc
    .record({
      answerFile: fc.option(fc.record({ name, data: fc.uint8Array({ maxLength: 200 }) }), { nil: undefined }),
      files: fc.uniqueArray(fc.record({ name, data: fc.uint8Array({ maxLength: 200 }) }), {
        selector: (f) => f.name,
        maxLength: 3,
      }),
      credentials: fc.array(
        fc.record({
          user: fc.stringMatching(/^[a-z_][a-z0-9_-]{0,15}$/),
          password: fc.string({ minLength: 1, maxLength: 30 }),
        }),
        { maxLength: 2 },
      ),
      sshKeys: fc.array(
        fc.record({
          user: fc.stringMatching(/^[a-z_][a-z0-9_-]{0,15}$/),
          key: fc.stringMatching(/^ssh-ed25519 [A-Za-z0-9+/]{4,40}$/),
        }),
        { maxLength: 2 },
      ),
    })
    .map((s) => {
      if (s.answerFile === undefined) delete s.answerFile;
      return s;
    });
  const viqArb = fc.record({
    name: fc.stringMatching(/^[A-Za-z0-9*?._-]{1,30}$/),
    version: fc.stringMatching(/^(0|[1-9][0-9]{0,4})(\.(0|[1-9][0-9]{0,4})){0,3}$/),
    rule: fc.constantFrom('Equals' as const, 'GreaterThan' as const, 'GreaterThanOrEquals' as const),
    signer: fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => Buffer.from(b).toString('hex')),
  });

  test('create → open gives the secrets back; parse → encode is the identity', () => {
    fc.assert(
      fc.property(
        secretsArb,
        fc.array(viqArb, { maxLength: 3 }),
        fc.constantFrom('Shielded' as const, 'EncryptionSupported' as const),
        (secrets, viqs, policy) => {
          const bytes = createPdk({
            owner,
            guardians: [exportGuardian(fabric)],
            viqs,
            policy,
            secrets,
            created: 1,
          });
          expect(encodePdk(parsePdk(bytes))).toEqual(bytes);
          const { info, secrets: back } = openPdk(bytes, fabric);
          expect(back).toEqual(secrets);
          expect(info.viqs).toEqual(viqs);
          expect(info.policy).toBe(policy);
        },
      ),
      { numRuns: 25 },
    );
  });
});
